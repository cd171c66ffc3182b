"""From an unordered label map to a foreground mask without looking at labels: the fixed rule UISB and
WNet are scored with beside the paper's § oracle (``benchmark.metrics.oracle``).

Rule ("border background"): per image, the label covering most of the outer ring of pixels
(``border`` pixels wide) is the background; every other label is foreground. Why this rule: the
images are object crops (FineGAN's 1.5 x bbox square; the synthetic world's centred objects), so
their border is background; the background of a crop is mostly one region for these methods, while
the object often splits into several (two colours of a patterned object, a bird's head and wings),
which a "label under the centre" rule would cut to one part. Ties go to the smaller label.
"""

from __future__ import annotations

import torch

from core.errors import UserError


def border_ring(height: int, width: int, border: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Bool (H, W): the outer ``border`` pixels of an image."""
    if border < 1 or 2 * border >= min(height, width):
        raise UserError(f"border ring of {border} px does not fit a {height}x{width} image")
    ring = torch.ones(height, width, dtype=torch.bool, device=device)
    ring[border:-border, border:-border] = False
    return ring


def dominant_border_label(labels: torch.Tensor, border: int) -> torch.Tensor:
    """(N,) int64: per image, the label with the most pixels on the border ring of ``labels`` (N, H, W)."""
    ring = border_ring(*labels.shape[-2:], border, labels.device)
    on_ring = labels[:, ring].long()
    counts = torch.zeros(labels.shape[0], int(labels.max()) + 1, dtype=torch.long, device=labels.device)
    counts.scatter_add_(1, on_ring, torch.ones_like(on_ring))
    return counts.argmax(dim=1)   # first maximum: the smaller label on ties


def border_background_foreground(labels: torch.Tensor, border: int) -> torch.Tensor:
    """Float (N, 1, H, W) in {0, 1}: every label but the dominant border label is foreground."""
    background = dominant_border_label(labels, border)
    return (labels != background[:, None, None]).float()[:, None]
