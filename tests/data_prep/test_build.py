"""End-to-end ``bench prep`` on the fixture layouts: tables, crops, masks, patches, errors, atomicity."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import make_cars, make_cub, make_dogs
from PIL import Image

import data_prep.build as build_module
from benchmark.cli import main as bench_main
from core.errors import MissingWeightsError, UserError
from data_prep.backgrounds import rect_intersects_box
from data_prep.build import PrepOptions, build
from data_prep.images import UnreadableImageError
from data_prep.prepared import MANIFEST_COLUMNS, load_prepared

SIZE = 32
MIN_AGREEMENT = 0.95  # the soft halo (value 100) around each CUB object would cost ~12% if counted


def _options(data, out: Path, dataset: str, **kw) -> PrepOptions:
    return PrepOptions(dataset=dataset, root=data.root, out=out, size=SIZE, workers=1, progress=False, **kw)


def _check_prepared(out: Path, data, dataset: str):
    prepared = load_prepared(out)
    manifest = prepared.manifest
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert len(manifest) == data.n_images and manifest["image_id"].is_unique
    assert prepared.meta["dataset"] == dataset and prepared.num_classes == data.n_classes
    assert prepared.size == SIZE
    for _, row in manifest.iterrows():
        assert row["class_id"] == data.classes[row["image_id"]]
        assert [row[f"bbox_{k}"] for k in "xywh"] == pytest.approx(data.boxes[row["image_id"]])
        assert np.allclose(json.loads(row["boxes"]), data.all_boxes[row["image_id"]])
        image = prepared.load_image(row["path"])
        assert image.shape == (SIZE, SIZE, 3)
        # the crop is centred on the (yellow) object, greyscale sources included
        assert image[SIZE // 2 - 2:SIZE // 2 + 2, SIZE // 2 - 2:SIZE // 2 + 2, :2].min() > 180
    # split: disjoint by construction (one role per image), 80/20 overall
    assert set(manifest["role"]) == {"fg", "bg"}
    assert abs((manifest["role"] == "bg").mean() - 0.2) <= 0.1
    # patches: only from bg images, inside the image, and never on a box
    patches = prepared.backgrounds
    assert len(patches) > 0
    by_id = manifest.set_index("image_id")
    assert set(patches["source_image_id"]) <= set(by_id.index[by_id["role"] == "bg"])
    for _, patch in patches.iterrows():
        source = by_id.loc[patch["source_image_id"]]
        rect = (patch["x"], patch["y"], patch["x"] + patch["w"], patch["y"] + patch["h"])
        assert rect[2] <= source["width"] and rect[3] <= source["height"] and patch["w"] == patch["h"]
        assert not any(rect_intersects_box(rect, b) for b in json.loads(source["boxes"]))
        pixels = prepared.load_image(patch["path"])
        assert pixels.shape == (SIZE, SIZE, 3)
        assert (pixels[..., 0] > 200).mean() < 0.01  # no object pixel in a background patch
    return prepared


def _check_masks_aligned(prepared, expect_source: str) -> None:
    manifest = prepared.manifest
    assert (manifest["mask"] != "").all() and set(manifest["mask_source"]) == {expect_source}
    for _, row in manifest.iterrows():
        raw = np.asarray(Image.open(prepared.root / row["mask"]))
        assert set(np.unique(raw)) <= {0, 255}
        mask = prepared.load_mask(row["mask"])
        image = prepared.load_image(row["path"]).astype(int)
        assert mask.any() and not mask.all()
        obj = (image[..., 0] > 160) & (image[..., 1] > 160)
        # the mask and the object agree on almost every pixel (resampling edges aside)
        assert (mask == obj).mean() > MIN_AGREEMENT, row["image_id"]


def test_cub_with_gt_masks(tmp_path: Path) -> None:
    data = make_cub(tmp_path / "src")
    out = build(_options(data, tmp_path / "cub", "cub", masks="gt"))
    prepared = _check_prepared(out, data, "cub")
    _check_masks_aligned(prepared, "gt")
    meta = prepared.meta
    assert meta["num_parents"] == 1 and meta["children_per_parent"] == 3  # 3 of CUB's 200 classes -> 1 parent
    assert meta["counts"]["skipped"] == 0 and meta["counts"]["patches"] == len(prepared.backgrounds)
    assert meta["background_rule"]["name"] and meta["mask_source"] == "gt" and "torch" in meta["versions"]
    assert not (out / "scratch").exists()


def test_dogs_and_cars_in_a_pool(tmp_path: Path) -> None:
    dogs = make_dogs(tmp_path / "dogs")
    prepared = _check_prepared(build(replace(_options(dogs, tmp_path / "d", "dogs"), workers=2)), dogs, "dogs")
    assert (prepared.manifest["mask"] == "").all()
    multi = prepared.manifest[prepared.manifest["boxes"].map(lambda s: len(json.loads(s)) == 2)]
    assert len(multi) == 3 and (multi["bbox_w"] == 80.0).all()  # main box = the larger dog
    cars = make_cars(tmp_path / "cars")
    _check_prepared(build(replace(_options(cars, tmp_path / "c", "cars"), workers=2)), cars, "cars")


def test_prep_is_deterministic_and_fingerprinted(tmp_path: Path) -> None:
    data = make_cars(tmp_path / "src")
    a = load_prepared(build(_options(data, tmp_path / "a", "cars")))
    b = load_prepared(build(replace(_options(data, tmp_path / "b", "cars"), workers=2)))
    c = load_prepared(build(replace(_options(data, tmp_path / "c", "cars"), seed=1)))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.manifest.drop(columns=[]).equals(b.manifest)
    assert not a.manifest["role"].equals(c.manifest["role"])


def test_bench_cli_prep_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = make_dogs(tmp_path / "src")
    rc = bench_main(["prep", "--dataset", "dogs", "--root", str(data.root), "--out", str(tmp_path / "out"),
                     "--size", "24", "--workers", "2", "--no-progress", "--seed", "5"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "prepared dogs" in text and "fg/X_c 12, bg 3" in text and "background patches" in text
    prepared = load_prepared(tmp_path / "out")
    assert prepared.size == 24 and prepared.meta["seed"] == 5 and prepared.meta["dataset"] == "dogs"


def test_bench_cli_synthetic_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = bench_main(["prep", "--dataset", "synthetic", "--out", str(tmp_path / "syn"), "--images", "40",
                     "--classes", "4", "--parents", "2", "--size", "32"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "prepared synthetic" in text and "4 children, 2 parents" in text
    assert load_prepared(tmp_path / "syn").size == 32


def test_gt_masks_on_a_dataset_without_segmentations_fails_early(tmp_path: Path) -> None:
    data = make_dogs(tmp_path / "src")
    with pytest.raises(UserError, match="deeplabv3"):
        build(_options(data, tmp_path / "out", "dogs", masks="gt"))
    assert not (tmp_path / "out").exists()


def test_bench_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = bench_main(["prep", "--dataset", "cub", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and str(tmp_path / "nope") in err
    assert not (tmp_path / "o").exists()


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_truncated_image_fails_naming_it_or_is_skipped(tmp_path: Path) -> None:
    data = make_cub(tmp_path / "src")
    victim = sorted((data.root / "images").rglob("*.jpg"))[4]
    _truncate(victim)
    with pytest.raises(UnreadableImageError, match=victim.name):
        build(replace(_options(data, tmp_path / "out", "cub"), workers=2))
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.building-*"))

    out = build(replace(_options(data, tmp_path / "out", "cub"), skip_bad=True))
    prepared = load_prepared(out)
    assert len(prepared.manifest) == data.n_images - 1
    assert prepared.meta["counts"]["skipped"] == 1
    assert prepared.meta["skipped"][0]["path"].endswith(victim.name)


def test_missing_segmentation_is_a_bad_input_too(tmp_path: Path) -> None:
    data = make_cub(tmp_path / "src")
    victim = sorted((tmp_path / "src" / "segmentations").rglob("*.png"))[0]
    victim.unlink()
    with pytest.raises(UserError, match=victim.name):
        build(_options(data, tmp_path / "out", "cub", masks="gt"))
    none_found = make_cub(tmp_path / "src2", segmentations="none")
    with pytest.raises(UserError, match="segmentations"):
        build(_options(none_found, tmp_path / "out", "cub", masks="gt"))


def test_interrupted_build_keeps_old_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_cars(tmp_path / "src")
    out = build(_options(data, tmp_path / "out", "cars"))
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    calls = {"n": 0}
    real = build_module.process_image

    def failing(task):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt  # an interrupt in the middle of the image stream
        return real(task)

    monkeypatch.setattr(build_module, "process_image", failing)
    with pytest.raises(KeyboardInterrupt):
        build(replace(_options(data, tmp_path / "out", "cars"), seed=9))
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not list(tmp_path.glob(".out.building-*"))


@pytest.mark.parametrize("masks, weights", [
    ("deeplabv3-torchvision", None), ("deeplabv3-torchvision", "missing.pth"),
    ("deeplabv3-gluoncv", None), ("deeplabv3-gluoncv", "empty_dir"),
])
def test_missing_weights_write_nothing(tmp_path: Path, masks: str, weights: str | None) -> None:
    data = make_dogs(tmp_path / "src")
    if weights == "empty_dir":
        (tmp_path / weights).mkdir()
    path = tmp_path / weights if weights else None
    with pytest.raises(MissingWeightsError) as info:
        build(_options(data, tmp_path / "out", "dogs", masks=masks, weights=path))
    message = str(info.value)
    assert ("586e9e4e.pth" in message and "download.pytorch.org" in message) if "torchvision" in masks \
        else ("deeplab_resnet101_coco" in message and "get_model" in message)
    if weights:
        assert str(path) in message
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
