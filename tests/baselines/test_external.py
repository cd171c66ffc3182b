"""The external-files wrapper: reading masks/clusters/generated images, and clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from baselines.external import ExternalPredictionError, from_spec, parse_spec
from data_prep.prepared import MANIFEST_COLUMNS, load_prepared, write_tables

SIZE = 16
IDS = ["0007", "0011", "0042"]


@pytest.fixture()
def prepared(tmp_path: Path):
    """Three images of source size 40x30 (WxH) whose crop is the square [5, 2, 24, 24]."""
    root = tmp_path / "prepared"
    root.mkdir()
    rows = [{c: "" for c in MANIFEST_COLUMNS} | {
        "image_id": image_id, "path": f"images/{image_id}.png", "class_id": i, "parent_id": i // 2,
        "crop": json.dumps([5, 2, 24, 24]), "width": 40, "height": 30, "role": "fg",
    } for i, image_id in enumerate(IDS)]
    meta = {"dataset": "toy", "num_classes": 4, "num_parents": 2, "size": SIZE, "fingerprint": "toy"}
    write_tables(root, pd.DataFrame(rows), pd.DataFrame(columns=["patch_id", "path", "source_image_id",
                                                                  "x", "y", "w", "h"]), meta)
    return load_prepared(root)


def _save_mask(folder: Path, image_id: str, array: np.ndarray) -> None:
    folder.mkdir(exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(folder / f"{image_id}.png")


def test_masks_at_prepared_and_source_size(prepared, tmp_path) -> None:
    masks = tmp_path / "masks"
    square = np.zeros((SIZE, SIZE))
    square[4:12, 2:6] = 255
    _save_mask(masks, "0007", square)
    label_map = np.zeros((SIZE, SIZE))
    label_map[:8] = 1          # a 0/1 label map
    _save_mask(masks, "0011", label_map)
    source = np.zeros((30, 40))
    source[2:14, 5:29] = 255   # the top half of the crop [5, 2, 24, 24]
    _save_mask(masks, "0042", source)
    method = from_spec(f"external:name=toy,masks={masks}", prepared)
    assert method.tasks == frozenset({"segment"}) and method.by_id
    out = method.segment_ids(IDS)
    assert out.shape == (3, 1, SIZE, SIZE)
    assert torch.equal(out[0, 0], torch.from_numpy(square > 127).float())
    assert torch.equal(out[1, 0], torch.from_numpy(label_map > 0).float())
    expected = torch.zeros(SIZE, SIZE)
    expected[:8] = 1
    assert torch.equal(out[2, 0], expected)
    assert method.segment_ids(IDS[:1], size=32).shape == (1, 1, 32, 32)
    with pytest.raises(ExternalPredictionError, match="looked up by image id"):
        method.segment(torch.zeros(1, 3, SIZE, SIZE))


def test_mask_errors_name_file_and_id(prepared, tmp_path) -> None:
    masks = tmp_path / "masks"
    _save_mask(masks, "0007", np.zeros((SIZE, SIZE)))
    method = from_spec(f"external:name=toy,masks={masks}", prepared)
    with pytest.raises(ExternalPredictionError, match=r"no mask for 2 of 3 .*0011\.png"):
        method.segment_ids(IDS)
    with pytest.raises(ExternalPredictionError, match="'9999' is not in the prepared dataset"):
        method.segment_ids(["9999"])
    _save_mask(masks, "0011", np.zeros((20, 20)))
    with pytest.raises(ExternalPredictionError, match=r"0011\.png: mask is 20x20 .* 16x16 prepared or 40x30"):
        method.segment_ids(["0011"])
    _save_mask(masks, "stray", np.zeros((SIZE, SIZE)))
    with pytest.raises(ExternalPredictionError, match=r"stray\.png: image id 'stray' is not in"):
        from_spec(f"external:name=toy,masks={masks}", prepared)


def test_clusters_csv_and_its_errors(prepared, tmp_path) -> None:
    good = tmp_path / "clusters.csv"
    good.write_text("image_id,cluster,parent\n0042,3,1\n0007,0,0\n0011,2,1\n")
    clusters = from_spec(f"external:name=toy,clusters={good}", prepared).cluster_ids(IDS)
    assert clusters.child.tolist() == [0, 2, 3] and clusters.parent.tolist() == [0, 1, 1]
    cases = {
        "image_id,label\n0007,1\n": r"lacks column\(s\) \['cluster'\]",
        "image_id,cluster\n0007,one\n": r"clusters\.csv:2: cluster 'one' is not an integer",
        "image_id,cluster\n0007,1\n0007,2\n": r"clusters\.csv:3: image id '0007' listed twice",
        "image_id,cluster\n0008,1\n": r"clusters\.csv:2: image id '0008' is not in the prepared dataset",
        "image_id,cluster\n0007,1,5\n": r"clusters\.csv:2: wrong number of fields",
        "image_id,cluster\n0007,-1\n": r"cluster -1 must be >= 0",
    }
    for text, message in cases.items():
        bad = tmp_path / "clusters.csv"
        bad.write_text(text)
        with pytest.raises(ExternalPredictionError, match=message):
            from_spec(f"external:name=toy,clusters={bad}", prepared)
    partial = tmp_path / "partial.csv"
    partial.write_text("image_id,cluster\n0007,1\n")
    with pytest.raises(ExternalPredictionError, match="no row for 2 of 3 .* '0011'"):
        from_spec(f"external:name=toy,clusters={partial}", prepared).cluster_ids(IDS)


def test_generated_images(prepared, tmp_path) -> None:
    folder = tmp_path / "generated"
    folder.mkdir()
    for i, value in enumerate((0, 128, 255)):
        Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(folder / f"g{i}.png")
    (folder / "conditions.csv").write_text("file,child,parent\ng0.png,1,0\ng1.png,1,0\ng2.png,3,1\n")
    method = from_spec(f"external:name=toy,images={folder}", prepared)
    out = method.generate(torch.tensor([1, 3, 1, 1]))
    assert out.shape == (4, 3, 8, 8)
    assert [round(float(x.mean()) * 255) for x in out] == [0, 255, 128, 0]   # cycles per child code
    images, child, parent = method.generated_set()
    assert images.shape == (3, 3, 8, 8) and child.tolist() == [1, 1, 3] and parent.tolist() == [0, 0, 1]
    with pytest.raises(ExternalPredictionError, match="no generated image for child 2"):
        method.generate(torch.tensor([2]))
    (folder / "conditions.csv").write_text("file,child\ng0.png,7\n")
    with pytest.raises(ExternalPredictionError, match=r"conditions\.csv:2: child 7 must be >= 0 and < 4"):
        from_spec(f"external:name=toy,images={folder}", prepared)
    (folder / "conditions.csv").write_text("file,child\nmissing.png,1\n")
    with pytest.raises(ExternalPredictionError, match=r"missing\.png not found"):
        from_spec(f"external:name=toy,images={folder}", prepared)


def test_spec_parsing() -> None:
    assert parse_spec("external:name=ReDO-official,masks=/m,clusters=/c.csv") == {
        "name": "ReDO-official", "masks": "/m", "clusters": "/c.csv"}
    for spec, message in [("external:masks=/m", "name=... is required"),
                          ("external:name=x", "at least one of"),
                          ("external:name=x,colour=/m", "unknown key 'colour'"),
                          ("external:name=x,masks", "expected key=value")]:
        with pytest.raises(ExternalPredictionError, match=message):
            parse_spec(spec)
