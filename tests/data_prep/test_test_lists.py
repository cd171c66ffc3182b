"""Official test lists and DRC crops written by `bench prep`, and the synthetic world's test list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import make_cub
from PIL import Image

from benchmark import protocols
from benchmark.protocols.images import protocol_rows
from data_prep.build import PrepOptions, build
from data_prep.drc_crops import DRC_SIZE, drc_paths
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic
from data_prep.test_lists import OFFICIAL_TEST_FILE, read_test_list, synthetic_test_ids


def test_cub_prep_writes_official_test_list_and_dithered_drc_crops(tmp_path: Path) -> None:
    data = make_cub(tmp_path / "src", per_class=2)
    out = build(PrepOptions(dataset="cub", root=data.root, out=tmp_path / "cub", size=32, workers=1,
                            progress=False, masks="gt"))
    prepared = load_prepared(out)
    split = dict(line.split() for line in (data.root / "train_test_split.txt").read_text().splitlines())
    expected = {i for i, is_training in split.items() if is_training == "0"}
    assert (out / OFFICIAL_TEST_FILE).is_file()
    assert read_test_list(out, prepared.manifest, "cub") == expected
    assert 0 < len(expected) < len(prepared.manifest)
    dithered_more = 0
    for image_id, mask_rel in zip(prepared.manifest["image_id"], prepared.manifest["mask"], strict=True):
        image_path, mask_path = drc_paths(out, image_id)
        with Image.open(image_path) as im, Image.open(mask_path) as m:
            assert im.size == (DRC_SIZE, DRC_SIZE) and m.size == (DRC_SIZE, DRC_SIZE)
            drc_fraction = (np.asarray(m.convert("L")) > 127).mean()
        thresholded_fraction = prepared.load_mask(mask_rel).mean()
        # The fixture's halo (value 100) is dropped by the 127 threshold but half-kept by dithering.
        dithered_more += drc_fraction > thresholded_fraction + 0.005
    assert dithered_more == len(prepared.manifest)


def test_synthetic_test_list_is_documented_half_of_each_class(tmp_path: Path) -> None:
    out = write_synthetic(tmp_path / "syn", classes=4, parents=2, images=80, size=16)
    prepared = load_prepared(out)
    written = read_test_list(out, prepared.manifest, "synthetic")
    assert written == set(synthetic_test_ids(prepared.manifest))
    (out / OFFICIAL_TEST_FILE).unlink()                              # older directories: same rule
    assert read_test_list(out, prepared.manifest, "synthetic") == written
    fg = prepared.manifest[prepared.manifest["role"] == "fg"]
    for _, rows in fg.groupby("class_id"):
        chosen = rows["image_id"].isin(written).sum()
        assert chosen == len(rows) // 2
    c3 = protocol_rows(prepared, protocols.get("c3gan2022"), "clustering")
    onegan = protocol_rows(prepared, protocols.get("onegan2020"), "clustering")
    assert set(prepared.manifest["image_id"].to_numpy()[c3]) == written and set(c3) < set(onegan)
