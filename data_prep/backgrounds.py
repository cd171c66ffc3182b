"""Background patches X_bg cut from the ``bg`` images with the bounding boxes (OneGAN §5).

The rule (``BackgroundRule``): take the union U of all boxes of the image (every annotated
object, not only the main one). The four strips left of, right of, above and below U intersect
no box by construction. From each strip cut the largest square that fits it, centred along the
strip's long side; keep it when its side is at least ``min_side_fraction * size`` pixels of the
source image, and resize it to size x size. So each ``bg`` image yields 0-4 square patches, never
distorted, never upsampled more than 1 / min_side_fraction times, containing no annotated pixel.

Why squares from strips rather than FineGAN's scheme: FineGAN feeds the whole real image to its
patch-wise background discriminator and masks out of the real/fake loss the receptive fields
that fall inside the (warped) box. OneGAN instead trains the background path on separate
clean background images (§5: "we produced a background subset by cutting background patches
with the bounding boxes"), so the patches themselves must be object-free. The cost is scale:
a patch shows a smaller part of the scene than a full image, and images whose object fills
the frame give no patch. Unannotated objects (a second bird that has no box) can still appear;
the datasets give no way to exclude them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from data_prep.crop import Rect
from data_prep.records import Box


@dataclass(frozen=True)
class BackgroundRule:
    """How patches are cut. ``min_side_fraction`` times the output size is the smallest source
    square kept (0.5 at size 128: 64 source pixels, at most 2x upsampling)."""

    min_side_fraction: float = 0.5
    max_patches_per_image: int = 4

    def describe(self) -> dict:
        return {"name": "largest-square-per-box-free-strip", **asdict(self)}


def box_free_squares(boxes: list[Box], width: int, height: int, min_side: float,
                     limit: int = 4) -> list[Rect]:
    """The squares of the rule above, as integer (x0, y0, x1, y1) rectangles, largest first."""
    if not boxes:
        strips = [(0, 0, width, height)]
    else:
        # Integer strip bounds rounded away from the boxes, so no pixel of a box is included.
        ux0 = max(0, math.floor(min(b[0] for b in boxes)))
        uy0 = max(0, math.floor(min(b[1] for b in boxes)))
        ux1 = min(width, math.ceil(max(b[0] + b[2] for b in boxes)))
        uy1 = min(height, math.ceil(max(b[1] + b[3] for b in boxes)))
        strips = [(0, 0, ux0, height), (ux1, 0, width, height), (0, 0, width, uy0), (0, uy1, width, height)]
    squares = []
    for x0, y0, x1, y1 in strips:
        w, h = x1 - x0, y1 - y0
        side = min(w, h)
        if side <= 0 or side < min_side:
            continue
        # Centre the square along the long side of the strip.
        sx = x0 + (w - side) // 2
        sy = y0 + (h - side) // 2
        squares.append((sx, sy, sx + side, sy + side))
    squares.sort(key=lambda r: (-(r[2] - r[0]), r))
    return squares[:limit]


def rect_intersects_box(rect: Rect, box: Box) -> bool:
    """True when the rectangle and the box share an area (touching edges do not count)."""
    x0, y0, x1, y1 = rect
    return x0 < box[0] + box[2] and box[0] < x1 and y0 < box[1] + box[3] and box[1] < y1
