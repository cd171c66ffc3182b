"""Batched random image transforms on tensors (N, 3, H, W) in [0, 1], drawn from torch's global RNG.

IIC pairs an image with a transformed copy g(x): for clustering any transform that keeps the object's
identity (crop, flip, colour jitter); for segmentation only transforms whose geometric part can be
undone on the output (flip), so pixel u of one view pairs with pixel u of the other (IIC §3.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_flip(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror each image horizontally with probability 1/2; returns (images, flipped bool (N,))."""
    flipped = torch.rand(images.shape[0], device=images.device) < 0.5
    out = images.clone()
    out[flipped] = out[flipped].flip(-1)
    return out, flipped


def unflip(maps: torch.Tensor, flipped: torch.Tensor) -> torch.Tensor:
    """Undo :func:`random_flip` on per-pixel outputs (N, K, h, w)."""
    out = maps.clone()
    out[flipped] = out[flipped].flip(-1)
    return out


def colour_jitter(images: torch.Tensor, brightness: float, contrast: float, saturation: float,
                  hue: float = 0.0) -> torch.Tensor:
    """Per-image brightness/contrast/saturation factors in [1 - s, 1 + s] and a hue rotation of up
    to ±``hue`` turns (a rotation of the chroma plane in YIQ space); clamped to [0, 1]."""
    n = images.shape[0]

    def factor(strength: float) -> torch.Tensor:
        return (1.0 + strength * (2.0 * torch.rand(n, 1, 1, 1, device=images.device) - 1.0))

    grey = (0.299 * images[:, 0:1] + 0.587 * images[:, 1:2] + 0.114 * images[:, 2:3])
    out = images * factor(brightness)
    mean = grey.mean(dim=(2, 3), keepdim=True)
    out = (out - mean) * factor(contrast) + mean
    grey = (0.299 * out[:, 0:1] + 0.587 * out[:, 1:2] + 0.114 * out[:, 2:3])
    out = (out - grey) * factor(saturation) + grey
    if hue > 0:
        out = _rotate_hue(out, hue * (2.0 * torch.rand(n, device=images.device) - 1.0))
    return out.clamp(0.0, 1.0)


def _rotate_hue(images: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    to_yiq = images.new_tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    yiq = torch.einsum("ij,njhw->nihw", to_yiq, images)
    angle = 2 * torch.pi * turns
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], dim=1)
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(to_yiq), yiq)


def random_resized_crop(images: torch.Tensor, min_scale: float, size: int | None = None) -> torch.Tensor:
    """A random square crop of side ``s`` x the image side, s ~ U[min_scale, 1], anywhere inside the
    image, resized (bilinear) to ``size`` (default: the input size)."""
    n, _, h, w = images.shape
    size = size or h
    scale = min_scale + (1.0 - min_scale) * torch.rand(n, device=images.device)
    shift = (1.0 - scale)[:, None] * (2.0 * torch.rand(n, 2, device=images.device) - 1.0)
    theta = torch.zeros(n, 2, 3, device=images.device)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, [n, images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
