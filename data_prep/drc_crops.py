"""Deep Region Competition's crops (yuPeiyu98/Deep-Region-Competition, ``data/dataset.py``), written
by ``bench prep`` under ``<prepared>/drc/`` so the ``drc2021`` protocol finds its images:

* ``drc/images/<id>.png``: the FineGAN crop r = int(0.75 max(w, h)) around the box centre,
  clipped to the image (``data_prep.crop.finegan_crop_rect``, the same integer arithmetic), squashed
  to 128 x 128 bilinearly (torchvision ``Resize((128, 128))`` on a PIL image);
* ``drc/masks/<id>.png``: the source mask read as DRC reads it, PIL ``convert('1')`` (Floyd-Steinberg
  dithering of soft values), cropped by the same rectangle and resized to 128 x 128 (PIL resizes
  mode-'1' images by nearest neighbour), stored 0/255.

DRC crops CUB this way; its Dogs/Cars data are Mask R-CNN pseudo-masks on selected subsets, which
are not public any more: on those datasets these crops hold our masks, not DRC's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from data_prep.crop import Rect

DRC_DIR = "drc"
DRC_SIZE = 128


def drc_paths(root: str | Path, image_id: str) -> tuple[Path, Path]:
    base = Path(root) / DRC_DIR
    return base / "images" / f"{image_id}.png", base / "masks" / f"{image_id}.png"


def drc_image(image: Image.Image, rect: Rect) -> Image.Image:
    return image.convert("RGB").crop(rect).resize((DRC_SIZE, DRC_SIZE), Image.Resampling.BILINEAR)


def binarise_gt(mask: np.ndarray) -> np.ndarray:
    """DRC's ground-truth binarisation: an 8-bit (H, W) mask through PIL ``convert('1')`` (dithered)."""
    array = np.asarray(mask)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8 or array.ndim != 2:
        raise ValueError(f"expected an 8-bit (H, W) mask; got {array.dtype} {array.shape}")
    return np.asarray(Image.fromarray(array, mode="L").convert("1"))


def drc_mask(mask_8bit: np.ndarray, rect: Rect) -> np.ndarray:
    """Boolean 128 x 128 mask from an 8-bit source mask (dithered, cropped, nearest-resized)."""
    binary = Image.fromarray(binarise_gt(mask_8bit))
    return np.asarray(binary.crop(rect).resize((DRC_SIZE, DRC_SIZE), Image.Resampling.NEAREST))


def write_drc_crop(root: str | Path, image_id: str, image: Image.Image, mask_8bit: np.ndarray | None,
                   rect: Rect) -> None:
    """Write one image's DRC crop (and mask, when it has one) under ``root/drc``."""
    image_path, mask_path = drc_paths(root, image_id)
    image_path.parent.mkdir(parents=True, exist_ok=True)
    drc_image(image, rect).save(image_path, compress_level=1)
    if mask_8bit is not None:
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(drc_mask(mask_8bit, rect).astype(np.uint8) * 255).save(mask_path, compress_level=1)
