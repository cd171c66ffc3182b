"""Robust decoding of the source images and masks of the three datasets.

The distributed files hold a few surprises: greyscale JPEGs (CUB, Cars), PNG data under a ``.jpg``
name and 4-channel (RGBA or CMYK) files (Dogs). Everything is decoded by content, not by name,
and converted to RGB. Alpha is dropped (the colour channels are kept as stored). EXIF
orientation is deliberately NOT applied: the datasets' boxes are in the stored pixel grid.

A file that PIL cannot decode completely (unknown format, truncated data) raises
:class:`UnreadableImageError` naming the file. ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is left at
False on purpose: a silently grey-padded image would poison the crops.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from core.errors import UserError


class UnreadableImageError(UserError, OSError):
    """An image or mask file could not be decoded (rerun with --skip-bad to skip such files)."""


def _open_fully(path: str | os.PathLike) -> Image.Image:
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone flipped the global switch; decoding truncated files would hide corruption.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False during prep")
    try:
        with warnings.catch_warnings():
            # A truncated file may only warn on some formats; make every decoder complaint an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()  # force the full decode now, so truncation is caught here
        return image
    except FileNotFoundError as err:
        raise UnreadableImageError(f"image file not found: {path}") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:
        raise UnreadableImageError(f"cannot decode image {path}: {err}") from err


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Decode an image file by content and return it in RGB mode (greyscale, palette, RGBA, LA,
    CMYK and 16-bit modes are converted)."""
    image = _open_fully(path)
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: rescale to 8 bits before the RGB conversion (PIL would clip).
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() if array.size and array.max() > 0 else 1.0
        image = Image.fromarray(np.round(array / peak * 255).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        return Image.fromarray(np.asarray(image)[..., :3], mode="RGB")
    return image.convert("RGB")


def load_mask_values(path: str | os.PathLike) -> np.ndarray:
    """A segmentation file as uint8 greyscale values (H, W). RGB or palette files are converted by
    luminance, so a grey value stored in three channels keeps its value."""
    image = _open_fully(path)
    if image.mode in ("RGBA", "LA"):
        image = image.convert("RGB")
    return np.asarray(image.convert("L"), dtype=np.uint8)
