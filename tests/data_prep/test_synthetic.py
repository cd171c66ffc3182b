"""The synthetic default: exact ground truth, stratified disjoint split, determinism, clear errors."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from core.errors import UserError
from data_prep.datasets import BackgroundPatches, ObjectImages
from data_prep.prepared import load_prepared, parent_of
from data_prep.synthetic import write_synthetic


def _tree_digest(root) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "meta.json"):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return load_prepared(write_synthetic(tmp_path_factory.mktemp("syn") / "d", classes=6, parents=2,
                                         images=120, size=32, seed=3))


def test_counts_split_and_labels(synthetic):
    m = synthetic.manifest
    assert len(m) == 120 and set(m["class_id"]) == set(range(6))
    assert synthetic.num_classes == 6 and synthetic.num_parents == 2
    # stratified 80/20: each class has 20 images, 4 of them bg
    per_class = m.groupby("class_id")["role"].apply(lambda r: (r == "bg").sum())
    assert (per_class == 4).all()
    assert not set(m.loc[m.role == "fg", "image_id"]) & set(m.loc[m.role == "bg", "image_id"])
    assert (m["parent_id"].to_numpy() == parent_of(m["class_id"].to_numpy(), 6, 2)).all()
    assert len(synthetic.backgrounds) == (m.role == "bg").sum()
    assert set(synthetic.backgrounds["source_image_id"]) == set(m.loc[m.role == "bg", "image_id"])


def test_masks_exact_and_boxes_tight(synthetic):
    for _, row in synthetic.rows("fg").head(20).iterrows():
        mask = synthetic.load_mask(row["mask"])
        assert mask.shape == (32, 32) and mask.any()
        ys, xs = np.nonzero(mask)
        assert (row.bbox_x, row.bbox_y) == (xs.min(), ys.min())
        assert (row.bbox_w, row.bbox_h) == (xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert json.loads(row["boxes"]) == [[row.bbox_x, row.bbox_y, row.bbox_w, row.bbox_h]]
    assert (synthetic.rows("bg")["mask"] == "").all()


def test_objects_differ_from_background(synthetic):
    """The object's pixels are painted (differ from a smooth scene): the mask is not decorative."""
    row = synthetic.rows("fg").iloc[0]
    image = synthetic.load_image(row["path"]).astype(float)
    mask = synthetic.load_mask(row["mask"])
    assert image.shape == (32, 32, 3)
    inside, outside = image[mask].mean(0), image[~mask].mean(0)
    assert np.abs(inside - outside).max() > 5


def test_deterministic_by_seed(tmp_path):
    a = write_synthetic(tmp_path / "a", classes=4, parents=2, images=16, size=24, seed=1)
    b = write_synthetic(tmp_path / "b", classes=4, parents=2, images=16, size=24, seed=1)
    c = write_synthetic(tmp_path / "c", classes=4, parents=2, images=16, size=24, seed=2)
    assert _tree_digest(a) == _tree_digest(b)
    assert _tree_digest(a) != _tree_digest(c)
    assert load_prepared(a).fingerprint == load_prepared(b).fingerprint != load_prepared(c).fingerprint


@pytest.mark.parametrize("kwargs, needle", [
    ({"classes": 5, "parents": 2}, "multiple of --parents"),
    ({"classes": 2, "parents": 4}, "must be >="),
    ({"images": 3}, "at least 2 x --classes"),
    ({"size": 8}, "--size"),
])
def test_bad_options_are_clear(tmp_path, kwargs, needle):
    with pytest.raises(UserError, match=needle):
        write_synthetic(tmp_path / "x", **{"classes": 4, "parents": 2, "images": 16, "size": 24, **kwargs})
    assert not (tmp_path / "x").exists()


def test_torch_views(synthetic):
    objects = ObjectImages(synthetic)
    item = objects[0]
    assert item["image"].shape == (3, 32, 32) and 0 <= item["image"].min() and item["image"].max() <= 1
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0} and item["has_mask"]
    assert len(objects) == (synthetic.manifest.role == "fg").sum()
    assert BackgroundPatches(synthetic)[0]["image"].shape == (3, 32, 32)
