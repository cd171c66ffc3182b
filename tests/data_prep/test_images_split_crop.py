"""Image decoding quirks, the stratified split, FineGAN crops and the background-patch rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from data_prep.backgrounds import BackgroundRule, box_free_squares, rect_intersects_box
from data_prep.crop import box_in_crop, clip_box, crop_image, crop_mask, finegan_crop_rect
from data_prep.images import UnreadableImageError, load_mask_values, load_rgb
from data_prep.split import split_roles

# ------------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("mode, fmt, name", [
    ("L", "JPEG", "grey.jpg"), ("RGBA", "PNG", "rgba.jpg"), ("RGB", "PNG", "png_named.jpg"),
    ("CMYK", "JPEG", "cmyk.jpg"), ("P", "PNG", "palette.png"), ("I;16", "PNG", "deep.png"),
])
def test_every_mode_decodes_to_rgb(tmp_path: Path, mode: str, fmt: str, name: str) -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, 15:] = (200, 40, 40)
    image = Image.fromarray(rgb)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 256)
    elif mode != "RGB":
        image = image.convert(mode)
    image.save(tmp_path / name, format=fmt)
    out = load_rgb(tmp_path / name)
    assert out.mode == "RGB" and out.size == (30, 20)
    array = np.asarray(out).astype(int)
    assert array[:, :15].mean() < 20 and array[:, 15:].mean() > 40  # content survives, not blank


def test_truncated_and_garbage_files_name_the_file(tmp_path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    for name in ("cut.jpg", "junk.jpg", "missing.jpg"):
        with pytest.raises(UnreadableImageError, match=name):
            load_rgb(tmp_path / name)


def test_rgb_segmentation_keeps_grey_values(tmp_path: Path) -> None:
    values = np.array([[0, 100, 128, 255]], np.uint8)
    Image.fromarray(values).convert("RGB").save(tmp_path / "seg.png")
    assert load_mask_values(tmp_path / "seg.png").tolist() == values.tolist()

# ---------------------------------------------------------------------------------------- split


def test_split_is_stratified_disjoint_and_seeded() -> None:
    rng = np.random.default_rng(1)
    class_ids = rng.integers(0, 17, 2000)
    roles = split_roles(class_ids, seed=3)
    assert set(roles) == {"fg", "bg"}
    assert abs((roles == "bg").mean() - 0.2) < 0.01
    for c in np.unique(class_ids):
        n = (class_ids == c).sum()
        assert abs((roles[class_ids == c] == "bg").sum() - 0.2 * n) <= 0.5  # per class, to rounding
    assert (split_roles(class_ids, seed=3) == roles).all()
    assert (split_roles(class_ids, seed=4) != roles).any()
    # one role per image: an image is fg or bg, never both, and every image gets one
    assert len(roles) == len(class_ids)


def test_split_keeps_singleton_classes_as_objects() -> None:
    assert list(split_roles(np.array([0, 1, 1]), seed=0)) == ["fg", "fg", "fg"]

# ----------------------------------------------------------------------------------------- crop


def test_finegan_crop_rect_matches_its_formula() -> None:
    # box 40x20 at (100, 50): r = int(0.75 * 40) = 30, centre (120, 60)
    assert finegan_crop_rect((100.0, 50.0, 40.0, 20.0), 500, 400) == (90, 30, 150, 90)
    # near the corner it is clipped to the image
    assert finegan_crop_rect((0.0, 0.0, 40.0, 20.0), 500, 400) == (0, 0, 50, 40)
    assert clip_box((-5.0, 10.0, 20.0, 500.0), 100, 100) == (0.0, 10.0, 15.0, 90.0)
    assert clip_box((200.0, 10.0, 20.0, 5.0), 100, 100) is None


def test_crop_mask_is_aligned_with_crop_image() -> None:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 100, (90, 120, 3), dtype=np.uint8)
    box = (37.0, 22.0, 30.0, 41.0)
    mask = np.zeros((90, 120), bool)
    mask[22:63, 37:67] = True
    array[mask] = (255, 0, 0)
    rect = finegan_crop_rect(box, 120, 90)
    image = np.asarray(crop_image(Image.fromarray(array), rect, 64)).astype(int)
    cropped = crop_mask(mask, rect, 64)
    assert cropped.dtype == bool and cropped.shape == (64, 64)
    inside, outside = image[cropped], image[~cropped]
    assert inside[:, 0].mean() > 200 and outside[:, 0].mean() < 120
    # the box mapped into crop coordinates covers the mask
    bx, by, bw, bh = box_in_crop(box, rect, 64)
    ys, xs = np.nonzero(cropped)
    assert bx - 1 <= xs.min() and xs.max() <= bx + bw + 1 and by - 1 <= ys.min() and ys.max() <= by + bh + 1

# ---------------------------------------------------------------------------------- backgrounds


def test_background_squares_never_touch_a_box() -> None:
    rng = np.random.default_rng(0)
    kept = 0
    for _ in range(500):
        width, height = rng.integers(40, 300, 2)
        boxes = []
        for _ in range(rng.integers(1, 4)):
            w, h = rng.uniform(1, width / 2), rng.uniform(1, height / 2)
            boxes.append((rng.uniform(0, width - w), rng.uniform(0, height - h), w, h))
        squares = box_free_squares(boxes, int(width), int(height), min_side=10)
        for x0, y0, x1, y1 in squares:
            kept += 1
            assert x1 - x0 == y1 - y0 >= 10
            assert 0 <= x0 and 0 <= y0 and x1 <= width and y1 <= height
            assert not any(rect_intersects_box((x0, y0, x1, y1), b) for b in boxes)
    assert kept > 300  # the rule does find patches


def test_background_rule_sizes() -> None:
    # 200x100 image, box in the middle third: left and right strips give 66- and 67-pixel squares
    squares = box_free_squares([(66.5, 0.0, 66.0, 100.0)], 200, 100, min_side=50)
    assert sorted(r[2] - r[0] for r in squares) == [66, 67]
    assert box_free_squares([(66.5, 0.0, 66.0, 100.0)], 200, 100, min_side=70) == []
    assert BackgroundRule().describe()["min_side_fraction"] == 0.5
