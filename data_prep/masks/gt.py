"""Ground-truth masks shipped with a dataset (CUB's segmentations).

CUB's PNGs hold soft values (0-255, annotator agreement); a few are stored as RGB. Foreground is
value > 127 (the reference protocol). A segmentation whose size differs from its image is resized
to the image (nearest) so crops stay aligned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from data_prep.images import UnreadableImageError, load_mask_values

FOREGROUND_THRESHOLD = 127


def load_gt_mask(path: Path, width: int, height: int) -> np.ndarray:
    """Boolean foreground mask (height, width) of a source image."""
    if not path.is_file():
        raise UnreadableImageError(f"segmentation file not found: {path}")
    values = load_mask_values(path)
    if values.shape != (height, width):
        values = np.asarray(Image.fromarray(values).resize((width, height), Image.Resampling.NEAREST))
    return values > FOREGROUND_THRESHOLD
