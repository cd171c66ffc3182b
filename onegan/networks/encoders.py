"""The three encoders (§3 "Encoders", Eqs. 6-8). Inputs are images in [-1, 1] at ``image_size``.

- ``ShapeEncoder``  E_p(I)      -> (ê_p logits (N, NP), μ_p, σ_p (N, d_p), B_fg, μ_z, σ_z (N, d_z))  Eq. 7
- ``StyleEncoder``  E_c(I)      -> (ê_c logits (N, NC), μ_c, σ_c (N, d_c))                          Eq. 8
- ``BackgroundEncoder`` E_bg(I, I_m) -> B_bg                                                       Eq. 6

σ is the standard deviation (positive; softplus of the raw output): the latent codes are sampled as
v̂ = μ + σ·ε, ε ~ N(0, I). The bypasses B_fg, B_bg have the shape of the pre-images A_fg, A_bg
(``preimage_channels`` x image_size/4 x image_size/4) so mixup 3 and 4 (Eq. 9) can mix them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from onegan.config import ModelConfig, OneGANConfig
from onegan.networks.blocks import down_path, preimage_channels, preimage_resolution

_MIN_SIGMA = 1e-4
_HEAD_RESOLUTION = 4


def model_config(config: ModelConfig | OneGANConfig) -> ModelConfig:
    return config.model if isinstance(config, OneGANConfig) else config


class ShapeCode(NamedTuple):
    """Output of E_p (Eq. 7)."""

    parent_logits: torch.Tensor   # ê_p
    mu_p: torch.Tensor
    sigma_p: torch.Tensor
    bypass_fg: torch.Tensor       # B_fg
    mu_z: torch.Tensor
    sigma_z: torch.Tensor


class StyleCode(NamedTuple):
    """Output of E_c (Eq. 8)."""

    child_logits: torch.Tensor    # ê_c
    mu_c: torch.Tensor
    sigma_c: torch.Tensor


def _sigma(raw: torch.Tensor) -> torch.Tensor:
    return F.softplus(raw) + _MIN_SIGMA


class _GaussianHead(nn.Module):
    """Flattened 4x4 features -> logits and (μ, σ) pairs of the given sizes."""

    def __init__(self, in_features: int, num_logits: int, gaussian_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.sizes = (num_logits, *[s for size in gaussian_sizes for s in (size, size)])
        self.linear = nn.Linear(in_features, sum(self.sizes))

    def forward(self, features: torch.Tensor) -> list[torch.Tensor]:
        parts = list(self.linear(features.flatten(1)).split(self.sizes, dim=1))
        for i in range(2, len(parts), 2):
            parts[i] = _sigma(parts[i])
        return parts


class ShapeEncoder(nn.Module):
    """E_p: image -> parent (shape) logits ê_p, shape code (μ_p, σ_p), bypass B_fg, pose (μ_z, σ_z)."""

    def __init__(self, config: ModelConfig | OneGANConfig) -> None:
        super().__init__()
        config = model_config(config)
        size, bypass_res = config.image_size, preimage_resolution(config)
        self.to_bypass_level, channels = down_path(config, 3, size, bypass_res)
        self.bypass = nn.Conv2d(channels, preimage_channels(config), 3, padding=1)
        self.to_head_level, head_channels = down_path(config, channels, bypass_res, _HEAD_RESOLUTION)
        self.head = _GaussianHead(head_channels * _HEAD_RESOLUTION ** 2, config.num_parents,
                                  (config.code_dim, config.z_dim))

    def forward(self, image: torch.Tensor) -> ShapeCode:
        features = self.to_bypass_level(image)
        bypass_fg = self.bypass(features)
        logits, mu_p, sigma_p, mu_z, sigma_z = self.head(self.to_head_level(features))
        return ShapeCode(logits, mu_p, sigma_p, bypass_fg, mu_z, sigma_z)


class StyleEncoder(nn.Module):
    """E_c: image -> child (style) logits ê_c and style code (μ_c, σ_c)."""

    def __init__(self, config: ModelConfig | OneGANConfig) -> None:
        super().__init__()
        config = model_config(config)
        self.features, channels = down_path(config, 3, config.image_size, _HEAD_RESOLUTION)
        self.head = _GaussianHead(channels * _HEAD_RESOLUTION ** 2, config.num_classes, (config.code_dim,))

    def forward(self, image: torch.Tensor) -> StyleCode:
        logits, mu_c, sigma_c = self.head(self.features(image))
        return StyleCode(logits, mu_c, sigma_c)


class BackgroundEncoder(nn.Module):
    """E_bg(I, I_m) -> B_bg. Sees the object-masked image I∘(1-I_m) and the mask itself ("BG masking"
    in Figs. 1-2), so the bypass carries background content only."""

    def __init__(self, config: ModelConfig | OneGANConfig) -> None:
        super().__init__()
        config = model_config(config)
        self.features, channels = down_path(config, 4, config.image_size, preimage_resolution(config))
        self.bypass = nn.Conv2d(channels, preimage_channels(config), 3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        masked = image * (1 - mask)
        return self.bypass(self.features(torch.cat([masked, mask], dim=1)))
