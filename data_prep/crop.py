"""FineGAN's object crop: a square of 1.5 x the box's larger side around the box centre, clipped
to the image, then resized to size x size (a clipped crop is stretched, as in FineGAN's loader).

FineGAN (``kkanshul/finegan``, ``get_imgs``) computes ``r = int(0.75 * max(w, h))`` and the integer
centre ``int(x + w / 2)``, ``int(y + h / 2)``; the same integer arithmetic is used here so the crops
match theirs pixel for pixel. Masks go through the same rectangle with nearest-neighbour resizing.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from data_prep.records import Box

# (x0, y0, x1, y1) integer pixel corners, x1/y1 exclusive.
Rect = tuple[int, int, int, int]


def clip_box(box: Box, width: int, height: int) -> Box | None:
    """The part of a box inside the image, or None when nothing is left."""
    x0, y0 = max(box[0], 0.0), max(box[1], 0.0)
    x1, y1 = min(box[0] + box[2], float(width)), min(box[1] + box[3], float(height))
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def finegan_crop_rect(box: Box, width: int, height: int) -> Rect:
    """The crop rectangle around ``box`` (see the module docstring)."""
    x, y, w, h = box
    radius = int(max(w, h) * 0.75)
    centre_x, centre_y = int((2 * x + w) / 2), int((2 * y + h) / 2)
    x0, y0 = max(0, centre_x - radius), max(0, centre_y - radius)
    x1, y1 = min(width, centre_x + radius), min(height, centre_y + radius)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty crop for box {box} in a {width}x{height} image")
    return (x0, y0, x1, y1)


def crop_image(image: Image.Image, rect: Rect, size: int) -> Image.Image:
    return image.crop(rect).resize((size, size), Image.Resampling.BICUBIC)


def crop_mask(mask: np.ndarray, rect: Rect, size: int) -> np.ndarray:
    """Boolean mask (H, W) of the source image -> boolean (size, size) aligned with crop_image."""
    x0, y0, x1, y1 = rect
    window = Image.fromarray(mask[y0:y1, x0:x1].astype(np.uint8) * 255)
    return np.asarray(window.resize((size, size), Image.Resampling.NEAREST)) > 127


def box_in_crop(box: Box, rect: Rect, size: int) -> Box:
    """A source-image box expressed in the coordinates of the size x size crop of ``rect``."""
    x0, y0, x1, y1 = rect
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    return ((box[0] - x0) * sx, (box[1] - y0) * sy, box[2] * sx, box[3] * sy)
