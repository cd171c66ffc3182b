"""Normalisation + GLU activation variants of the generators (§3 "GLU Layer Normalization", Table 3a).

Every variant maps a tensor with 2C channels to C channels; the channels are split into (x_L, x_R):

- ``glu-lnorm`` (the paper's): out = LNorm(x_L) * sigmoid(x_R)   - only x_L is normalised, because
  x_R acts as a gate on x_L and normalising it across channels would contradict that role;
- ``glu-inorm``: out = INorm(x_L) * sigmoid(x_R);
- ``lnorm``:     out = GLU(LNorm(x))  - the usual norm-then-activation order, both halves normalised;
- ``inorm``:     out = GLU(INorm(x)).

LNorm normalises each sample over (C, H, W) with a per-channel affine (GroupNorm with one group);
INorm normalises each sample and channel over (H, W). Neither depends on the batch size, which is
why the paper left BatchNorm.
"""

from __future__ import annotations

import torch
from torch import nn

from onegan.config import NORMALIZATIONS


def layer_norm(channels: int) -> nn.Module:
    """LNorm for (N, C, H, W): statistics per sample over C, H, W; per-channel scale and shift."""
    return nn.GroupNorm(1, channels)


def instance_norm(channels: int) -> nn.Module:
    """INorm for (N, C, H, W): statistics per sample and channel over H, W."""
    return nn.InstanceNorm2d(channels, affine=True)


class GLUNorm(nn.Module):
    """Normalise x_L only, then gate: out = Norm(x_L) * sigmoid(x_R) (GLU-LNorm / GLU-INorm)."""

    def __init__(self, channels: int, norm: nn.Module) -> None:
        super().__init__()
        self.channels = channels
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_left, x_right = x.chunk(2, dim=1)
        return self.norm(x_left) * torch.sigmoid(x_right)


class NormThenGLU(nn.Module):
    """Normalise all 2C channels, then GLU: out = GLU(Norm(x)) (plain LNorm / INorm rows)."""

    def __init__(self, channels: int, norm: nn.Module) -> None:
        super().__init__()
        self.channels = channels
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_left, x_right = self.norm(x).chunk(2, dim=1)
        return x_left * torch.sigmoid(x_right)


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The plain normalisation of ``kind`` (LNorm for the lnorm variants, INorm for the inorm ones),
    used where FineGAN has a BatchNorm without GLU (the second conv of ``ResBlock``)."""
    if kind in ("glu-lnorm", "lnorm"):
        return layer_norm(channels)
    if kind in ("glu-inorm", "inorm"):
        return instance_norm(channels)
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {kind!r}")


def glu_norm(kind: str, channels: int) -> nn.Module:
    """The normalisation+GLU module ``kind`` mapping 2*channels -> channels."""
    if kind == "glu-lnorm":
        return GLUNorm(channels, layer_norm(channels))
    if kind == "glu-inorm":
        return GLUNorm(channels, instance_norm(channels))
    if kind == "lnorm":
        return NormThenGLU(channels, layer_norm(2 * channels))
    if kind == "inorm":
        return NormThenGLU(channels, instance_norm(2 * channels))
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {kind!r}")
