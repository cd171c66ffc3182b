"""Background and foreground generators (Eqs. 3-5) with FineGAN's topology (``G_NET`` in
``kkanshul/finegan`` ``code/model.py``), normalised with GLU-LNorm instead of BatchNorm.

    I_bg = G_bg1(A_bg),  A_bg = G_bg0(v_bg, z)                         (Eq. 3)
    (I_fg, I_m) = G_fg2(G_fg1(A_fg, v_p), v_c),  A_fg = G_fg0(v_p, z)    (Eq. 4)
    I = I_bg ∘ (1 - I_m) + I_fg ∘ I_m                                  (Eq. 5)

FineGAN module -> OneGAN sub-network:
- background: ``h_net1_bg`` (INIT_STAGE_G, 16·ngf at 4x4 up to ngf at S) + ``img_net1_bg`` (3x3 conv,
  tanh). G_bg0 is INIT_STAGE_G's FC and up blocks to S/4 (the pre-image A_bg, where mixup 4 mixes in
  the bypass B_bg); G_bg1 is the remaining up blocks and the image conv.
- foreground: FineGAN's parent and child stages merged into one generator (paper §2 (iv)).
  G_fg0 = ``h_net1`` up to S/4 (A_fg, mixup 3); G_fg1 = the rest of ``h_net1`` and ``h_net2``
  (NEXT_STAGE_G: join v_p, ``residual_blocks`` ResBlocks, sameBlock to ngf/2); G_fg2 = ``h_net3``
  (join v_c, ResBlocks, sameBlock to ngf/4) and ``img_net3`` / ``img_net3_mask`` (3x3 conv + tanh /
  sigmoid). The codes join where FineGAN's stages join theirs: at full resolution.
The inputs are the embedded codes v (Eq. 2) instead of FineGAN's one-hot vectors; with the ``paper``
preset's code widths (``ModelConfig.code_dim = None``: FineGAN's one-hot sizes) every layer has
FineGAN's shape. I_bg, I_fg are in [-1, 1] (tanh), I_m in [0, 1] (sigmoid).
"""

from __future__ import annotations

import torch
from torch import nn

from onegan.config import ModelConfig
from onegan.networks.blocks import (
    INIT_RESOLUTION,
    ResBlock,
    SameBlock,
    UpBlock,
    generator_width,
    init_stage_widths,
    num_halvings,
    preimage_resolution,
)
from onegan.networks.norm import glu_norm


def compose(background: torch.Tensor, foreground: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 5: I = I_bg ∘ (1 - I_m) + I_fg ∘ I_m."""
    return background * (1 - mask) + foreground * mask


def _broadcast_join(features: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Concatenate a code vector to every spatial position of a feature map (FineGAN joins the
    code first: ``cat((code, h_code), 1)``)."""
    n, _, h, w = features.shape
    return torch.cat([code[:, :, None, None].expand(n, code.shape[1], h, w), features], dim=1)


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """FineGAN's ``conv3x3`` (no bias)."""
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)


def _up_blocks(config: ModelConfig, start: int, end: int) -> nn.Sequential:
    """INIT_STAGE_G's up blocks from resolution ``start`` to ``end``."""
    widths = init_stage_widths(config)
    first = num_halvings(start, INIT_RESOLUTION)
    return nn.Sequential(*[UpBlock(widths[k], widths[k + 1], config.normalization)
                           for k in range(first, num_halvings(end, INIT_RESOLUTION))])


class _CodeToPreimage(nn.Module):
    """INIT_STAGE_G up to S/4: (code, z) -> FC -> norm+GLU at 4x4 -> up blocks (G_bg0, G_fg0)."""

    def __init__(self, config: ModelConfig, code_dim: int) -> None:
        super().__init__()
        self.start_channels = generator_width(config, INIT_RESOLUTION)
        self.fc = nn.Linear(code_dim + config.z_dim, 2 * self.start_channels * INIT_RESOLUTION ** 2, bias=False)
        self.fc_norm = glu_norm(config.normalization, self.start_channels)
        self.up = _up_blocks(config, INIT_RESOLUTION, preimage_resolution(config))

    def forward(self, code: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # FineGAN: in_code = cat((c_code, z_code), 1)
        x = self.fc(torch.cat([code, z], dim=1)).view(-1, 2 * self.start_channels, INIT_RESOLUTION, INIT_RESOLUTION)
        return self.up(self.fc_norm(x))


class _CodeJoinStage(nn.Sequential):
    """FineGAN ``NEXT_STAGE_G``: joinConv(code ⊕ h -> w), ``residual_blocks`` ResBlocks, sameBlock w -> w/2."""

    def __init__(self, config: ModelConfig, width: int, code_dim: int) -> None:
        norm = config.normalization
        super().__init__(SameBlock(width + code_dim, width, norm),
                         *[ResBlock(width, norm) for _ in range(config.residual_blocks)],
                         SameBlock(width, width // 2, norm))


class BackgroundGenerator(nn.Module):
    """G_bg = G_bg1 ∘ G_bg0 (FineGAN ``h_net1_bg`` + ``img_net1_bg``)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.to_preimage = _CodeToPreimage(config, config.background_code_dim)      # G_bg0
        self.to_image = nn.Sequential(                                             # G_bg1
            _up_blocks(config, preimage_resolution(config), config.image_size),
            _conv3x3(config.ngf, 3),
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
        ngf = config.ngf
        self.to_preimage = _CodeToPreimage(config, config.parent_code_dim)           # G_fg0 (h_net1 to S/4)
        self.preimage_up = _up_blocks(config, preimage_resolution(config), config.image_size)  # rest of h_net1
        self.parent_stage = _CodeJoinStage(config, ngf, config.parent_code_dim)      # h_net2
        self.child_stage = _CodeJoinStage(config, ngf // 2, config.child_code_dim)   # h_net3
        self.to_rgb = nn.Sequential(_conv3x3(ngf // 4, 3), nn.Tanh())                # img_net3
        self.to_mask = nn.Sequential(_conv3x3(ngf // 4, 1), nn.Sigmoid())            # img_net3_mask

    def preimage(self, v_p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """A_fg = G_fg0(v_p, z)."""
        return self.to_preimage(v_p, z)

    def shape(self, preimage_fg: torch.Tensor, v_p: torch.Tensor) -> torch.Tensor:
        """G_fg1(A_fg, v_p): the shape (parent) stage at full resolution."""
        return self.parent_stage(_broadcast_join(self.preimage_up(preimage_fg), v_p))

    def style(self, shaped: torch.Tensor, v_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """G_fg2(·, v_c) -> (I_fg, I_m): the style (child) stage and its image and mask heads."""
        h = self.child_stage(_broadcast_join(shaped, v_c))
        return self.to_rgb(h), self.to_mask(h)
