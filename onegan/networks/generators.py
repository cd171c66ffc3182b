"""Background and foreground generators (Eqs. 3-5), GLU upsampling blocks as in FineGAN/StackGANv2.

    I_bg = G_bg1(A_bg),  A_bg = G_bg0(v_bg, z)                         (Eq. 3)
    (I_fg, I_m) = G_fg2(G_fg1(A_fg, v_p), v_c),  A_fg = G_fg0(v_p, z)    (Eq. 4)
    I = I_bg ∘ (1 - I_m) + I_fg ∘ I_m                                  (Eq. 5)

Pre-images A_bg, A_fg are (preimage_channels, S/4, S/4); I_bg, I_fg in [-1, 1] (tanh), I_m in [0, 1]
(sigmoid).
"""

from __future__ import annotations

import torch
from torch import nn

from onegan.config import ModelConfig
from onegan.networks.blocks import SameBlock, UpBlock, generator_channels, preimage_resolution
from onegan.networks.norm import glu_norm

_START = 4


def compose(background: torch.Tensor, foreground: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 5: I = I_bg ∘ (1 - I_m) + I_fg ∘ I_m."""
    return background * (1 - mask) + foreground * mask


def _broadcast_join(features: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Concatenate a code vector to every spatial position of a feature map."""
    n, _, h, w = features.shape
    return torch.cat([features, code[:, :, None, None].expand(n, code.shape[1], h, w)], dim=1)


class _CodeToPreimage(nn.Module):
    """(code, z) -> 4x4 map (FC + norm-GLU) -> up blocks to S/4: G_bg0 and G_fg0."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.start_channels = generator_channels(config, _START)
        self.fc = nn.Linear(config.code_dim + config.z_dim, 2 * self.start_channels * _START ** 2, bias=False)
        self.fc_norm = glu_norm(config.normalization, self.start_channels)
        blocks, resolution = [], _START
        while resolution < preimage_resolution(config):
            blocks.append(UpBlock(generator_channels(config, resolution), generator_channels(config, 2 * resolution),
                                  config.normalization))
            resolution *= 2
        self.up = nn.Sequential(*blocks)

    def forward(self, code: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(torch.cat([code, z], dim=1)).view(-1, 2 * self.start_channels, _START, _START)
        return self.up(self.fc_norm(x))


class BackgroundGenerator(nn.Module):
    """G_bg = G_bg1 ∘ G_bg0."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.to_preimage = _CodeToPreimage(config)                   # G_bg0
        quarter = preimage_resolution(config)
        self.to_image = nn.Sequential(                               # G_bg1
            UpBlock(generator_channels(config, quarter), generator_channels(config, 2 * quarter), config.normalization),
            UpBlock(generator_channels(config, 2 * quarter), generator_channels(config, 4 * quarter),
                    config.normalization),
            nn.Conv2d(generator_channels(config, 4 * quarter), 3, 3, padding=1),
            nn.Tanh(),
        )

    def preimage(self, v_bg: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """A_bg = G_bg0(v_bg, z)."""
        return self.to_preimage(v_bg, z)

    def image(self, preimage_bg: torch.Tensor) -> torch.Tensor:
        """I_bg = G_bg1(A_bg)."""
        return self.to_image(preimage_bg)


class ForegroundGenerator(nn.Module):
    """G_fg0 -> G_fg1(·, v_p) -> G_fg2(·, v_c) producing the foreground I_fg and mask I_m."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        quarter = preimage_resolution(config)
        c4, c2, c1 = (generator_channels(config, r) for r in (quarter, 2 * quarter, 4 * quarter))
        norm = config.normalization
        self.to_preimage = _CodeToPreimage(config)                   # G_fg0
        self.shape_join = SameBlock(c4 + config.code_dim, c4, norm)  # G_fg1
        self.shape_up = UpBlock(c4, c2, norm)
        self.style_join = SameBlock(c2 + config.code_dim, c2, norm)  # G_fg2
        self.style_up = UpBlock(c2, c1, norm)
        self.to_rgb = nn.Sequential(nn.Conv2d(c1, 3, 3, padding=1), nn.Tanh())
        self.to_mask = nn.Sequential(nn.Conv2d(c1, 1, 3, padding=1), nn.Sigmoid())

    def preimage(self, v_p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """A_fg = G_fg0(v_p, z)."""
        return self.to_preimage(v_p, z)

    def shape(self, preimage_fg: torch.Tensor, v_p: torch.Tensor) -> torch.Tensor:
        """G_fg1(A_fg, v_p)."""
        return self.shape_up(self.shape_join(_broadcast_join(preimage_fg, v_p)))

    def style(self, shaped: torch.Tensor, v_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """G_fg2(·, v_c) -> (I_fg, I_m)."""
        h = self.style_up(self.style_join(_broadcast_join(shaped, v_c)))
        return self.to_rgb(h), self.to_mask(h)
