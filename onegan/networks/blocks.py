"""Building blocks and widths of FineGAN's networks (Singh et al., ``kkanshul/finegan`` ``code/model.py``),
with OneGAN's normalisation (GLU-LNorm and its Table 3a variants) in place of BatchNorm.

FineGAN name -> here:
- ``upBlock`` (x2 nearest, 3x3 conv, BN, GLU)          -> ``UpBlock``
- ``Block3x3_relu`` / ``sameBlock`` (3x3 conv, BN, GLU) -> ``SameBlock``
- ``ResBlock`` (3x3 conv BN GLU, 3x3 conv BN, + x)      -> ``ResBlock``
- ``downBlock`` (4x4 stride-2 conv, BN, LeakyReLU 0.2)  -> ``DownBlock`` (LNorm: batch-size independent)
- ``Block3x3_leakRelu`` (3x3 conv, BN, LeakyReLU 0.2)   -> ``SameDownBlock`` (stride 1, LNorm)
"""

from __future__ import annotations

import math

from torch import nn

from onegan.config import ModelConfig
from onegan.networks.norm import glu_norm, norm_layer

INIT_RESOLUTION = 4   # FineGAN's INIT_STAGE_G starts from a 4x4 map
HEAD_RESOLUTION = 8   # FineGAN's encode_parent_and_child_img ends at 8x8 (128 px / 16)


def num_halvings(start: int, end: int) -> int:
    return int(round(math.log2(start // end)))


def init_stage_widths(config: ModelConfig) -> list[int]:
    """Widths of FineGAN's INIT_STAGE_G at 4, 8, ..., S px: halving per doubling, the last up block
    keeping its width, and ending at ``ngf`` (FineGAN at 128 px: 1024, 512, 256, 128, 64, 64)."""
    ups = num_halvings(config.image_size, INIT_RESOLUTION)
    return [config.ngf * 2 ** max(ups - 1 - k, 0) for k in range(ups + 1)]


def generator_width(config: ModelConfig, resolution: int) -> int:
    """INIT_STAGE_G's width at ``resolution`` (4 <= resolution <= image_size)."""
    return init_stage_widths(config)[num_halvings(resolution, INIT_RESOLUTION)]


def preimage_resolution(config: ModelConfig) -> int:
    """Spatial size of the pre-images A_bg, A_fg and bypasses B_bg, B_fg: a quarter of the image."""
    return config.image_size // 4


def preimage_channels(config: ModelConfig) -> int:
    return generator_width(config, preimage_resolution(config))


class UpBlock(nn.Sequential):
    """FineGAN ``upBlock``: x2 nearest upsampling, 3x3 conv to 2*out channels, normalisation+GLU."""

    def __init__(self, in_channels: int, out_channels: int, normalization: str) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, 2 * out_channels, 3, padding=1, bias=False),
            glu_norm(normalization, out_channels),
        )


class SameBlock(nn.Sequential):
    """FineGAN ``Block3x3_relu`` / ``sameBlock``: 3x3 conv at constant resolution, normalisation+GLU."""

    def __init__(self, in_channels: int, out_channels: int, normalization: str) -> None:
        super().__init__(
            nn.Conv2d(in_channels, 2 * out_channels, 3, padding=1, bias=False),
            glu_norm(normalization, out_channels),
        )


class ResBlock(nn.Module):
    """FineGAN ``ResBlock``: x + Norm(conv3x3(GLUNorm(conv3x3(x))))."""

    def __init__(self, channels: int, normalization: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            SameBlock(channels, channels, normalization),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            norm_layer(normalization, channels),
        )

    def forward(self, x):
        return x + self.body(x)


class DownBlock(nn.Sequential):
    """FineGAN ``downBlock``: 4x4 stride-2 conv (padding 1), LNorm, LeakyReLU(0.2). FineGAN's first
    layer of ``encode_parent_and_child_img`` has no normalisation (``normalize=False``)."""

    def __init__(self, in_channels: int, out_channels: int, normalize: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1,
                                             bias=not normalize)]
        if normalize:
            layers.append(nn.GroupNorm(1, out_channels))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        super().__init__(*layers)


class SameDownBlock(nn.Sequential):
    """FineGAN ``Block3x3_leakRelu``: 3x3 conv, LNorm, LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.GroupNorm(1, out_channels),
            nn.LeakyReLU(0.2, inplace=True),
        )


def object_image_trunk(config: ModelConfig, in_channels: int = 3) -> tuple[nn.Sequential, list[int]]:
    """FineGAN ``encode_parent_and_child_img``: 4x4 stride-2 convs from S px down to 8x8, ndf channels
    doubling per halving (128 px: ndf, 2, 4, 8 ndf). Returns the module and each stage's width; stage
    1 (S/4) is where E_p taps the bypass B_fg."""
    widths, layers, channels = [], [], in_channels
    for k in range(num_halvings(config.image_size, HEAD_RESOLUTION)):
        out = config.ndf * 2 ** k
        layers.append(DownBlock(channels, out, normalize=k > 0))
        widths.append(out)
        channels = out
    return nn.Sequential(*layers), widths


class CodePredictorTail(nn.Sequential):
    """FineGAN D_NET(1/2)'s tail after the trunk: ``img_code_s32`` (downBlock w -> 2w, 8 -> 4 px),
    ``img_code_s32_1`` (Block3x3_leakRelu 2w -> w). Output (N, w, 4, 4)."""

    def __init__(self, width: int) -> None:
        super().__init__(DownBlock(width, 2 * width), SameDownBlock(2 * width, width))
