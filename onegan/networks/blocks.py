"""Convolutional building blocks shared by the generators, encoders and discriminators."""

from __future__ import annotations

import math

from torch import nn

from onegan.config import ModelConfig
from onegan.networks.norm import glu_norm, layer_norm


def generator_channels(config: ModelConfig, resolution: int) -> int:
    """Generator width at a spatial resolution: ngf*16 at 4x4, halving per doubling (FineGAN's
    pyramid), never below 8 channels."""
    return max(config.ngf * 16 * 4 // resolution, 8)


def encoder_channels(config: ModelConfig, resolution: int) -> int:
    """Encoder/discriminator width: ndf at full resolution, doubling per halving, capped at ndf*8."""
    return min(config.ndf * config.image_size // resolution // 2, config.ndf * 8)


def preimage_resolution(config: ModelConfig) -> int:
    """Spatial size of the pre-images A_bg, A_fg and bypasses B_bg, B_fg: a quarter of the image."""
    return config.image_size // 4


def preimage_channels(config: ModelConfig) -> int:
    return generator_channels(config, preimage_resolution(config))


def num_halvings(start: int, end: int) -> int:
    return int(round(math.log2(start // end)))


class UpBlock(nn.Sequential):
    """x2 nearest upsampling, 3x3 conv to 2*out channels, normalisation+GLU to out channels."""

    def __init__(self, in_channels: int, out_channels: int, normalization: str) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, 2 * out_channels, 3, padding=1, bias=False),
            glu_norm(normalization, out_channels),
        )


class SameBlock(nn.Sequential):
    """3x3 conv at constant resolution with normalisation+GLU (joins a broadcast code to a map)."""

    def __init__(self, in_channels: int, out_channels: int, normalization: str) -> None:
        super().__init__(
            nn.Conv2d(in_channels, 2 * out_channels, 3, padding=1, bias=False),
            glu_norm(normalization, out_channels),
        )


class DownBlock(nn.Sequential):
    """4x4 stride-2 conv, LNorm (batch-size independent), LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, normalize: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1,
                                             bias=not normalize)]
        if normalize:
            layers.append(layer_norm(out_channels))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        super().__init__(*layers)


def down_path(config: ModelConfig, in_channels: int, start: int, end: int) -> tuple[nn.Sequential, int]:
    """Down blocks from resolution ``start`` to ``end``; returns (module, output channels)."""
    layers: list[nn.Module] = []
    channels, resolution = in_channels, start
    while resolution > end:
        out = encoder_channels(config, resolution // 2)
        layers.append(DownBlock(channels, out, normalize=resolution != config.image_size))
        channels, resolution = out, resolution // 2
    return nn.Sequential(*layers), channels
