"""GAN building blocks shared by the FineGAN and StackGANv2 baselines.

Both papers build their generators from the same pieces (StackGANv2's code introduced them, FineGAN
reused them): nearest-neighbour x2 upsampling followed by a 3x3 convolution, BatchNorm and a GLU
activation; a fully connected "initial stage" that turns a code vector into a 4x4 feature map and
upsamples it; residual GLU blocks for the later stages; tanh image heads. Discriminators downsample
with stride-2 4x4 convolutions and LeakyReLU(0.2).

Generators work in [-1, 1] internally (tanh heads); the method classes convert to [0, 1] at the API.
"""

from __future__ import annotations

import torch
from torch import nn


def glu(x: torch.Tensor) -> torch.Tensor:
    """Gated linear unit over channels: split (x_L, x_R), return x_L * sigmoid(x_R)."""
    left, right = x.chunk(2, dim=1)
    return left * torch.sigmoid(right)


class GLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return glu(x)


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)


class ConvGLU(nn.Sequential):
    """3x3 conv -> BatchNorm -> GLU, keeping the resolution (the conv emits 2x channels for the gate)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(conv3x3(in_channels, 2 * out_channels), nn.BatchNorm2d(2 * out_channels), GLU())


class UpBlock(nn.Sequential):
    """x2 nearest upsampling -> 3x3 conv -> BatchNorm -> GLU (StackGANv2/FineGAN ``upBlock``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvGLU(in_channels, out_channels))


class ResidualBlock(nn.Module):
    """x + BN(conv(GLU(BN(conv(x))))): the residual block of the later generator stages."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvGLU(channels, channels), conv3x3(channels, channels),
                                  nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DownBlock(nn.Sequential):
    """4x4 stride-2 conv -> (BatchNorm) -> LeakyReLU(0.2): halves the resolution."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        super().__init__(*layers)


def num_doublings(from_size: int, to_size: int) -> int:
    """How many x2 steps lead from ``from_size`` to ``to_size`` (both powers of two apart)."""
    steps = 0
    size = from_size
    while size < to_size:
        size *= 2
        steps += 1
    if size != to_size:
        raise ValueError(f"{to_size} is not {from_size} times a power of two")
    return steps


class InitialStage(nn.Module):
    """Code vector -> FC -> BatchNorm1d -> GLU -> (C, 4, 4) -> UpBlocks -> (C / 2^k, out_size, out_size).

    StackGANv2's ``INIT_STAGE_G``; FineGAN uses it for its background and parent stages, feeding the
    concatenation of the noise z and a one-hot code.
    """

    def __init__(self, in_dim: int, channels: int, out_size: int, min_channels: int = 8) -> None:
        super().__init__()
        self.channels = channels
        self.fc = nn.Sequential(nn.Linear(in_dim, channels * 4 * 4 * 2, bias=False),
                                nn.BatchNorm1d(channels * 4 * 4 * 2), GLU())
        blocks = []
        width = channels
        for _ in range(num_doublings(4, out_size)):
            next_width = max(width // 2, min_channels)
            blocks.append(UpBlock(width, next_width))
            width = next_width
        self.upsample = nn.Sequential(*blocks)
        self.out_channels = width

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        h = self.fc(code).view(code.shape[0], self.channels, 4, 4)
        return self.upsample(h)


class ImageHead(nn.Sequential):
    """3x3 conv to RGB and tanh: an image in [-1, 1]."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(conv3x3(in_channels, 3), nn.Tanh())


class MaskHead(nn.Sequential):
    """3x3 conv to one channel and sigmoid: a soft mask in [0, 1]."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(conv3x3(in_channels, 1), nn.Sigmoid())


class DownsampleTrunk(nn.Sequential):
    """Image (3, S, S) -> features (C, 4, 4) by stride-2 DownBlocks (no BatchNorm on the first, as DCGAN).

    Channels double per block from ``width`` up to ``max_width``.
    """

    def __init__(self, image_size: int, width: int, max_width: int = 512, in_channels: int = 3) -> None:
        blocks: list[nn.Module] = []
        channels_in, channels_out = in_channels, width
        for i in range(num_doublings(4, image_size)):
            blocks.append(DownBlock(channels_in, channels_out, batch_norm=i > 0))
            channels_in, channels_out = channels_out, min(channels_out * 2, max_width)
        super().__init__(*blocks)
        self.out_channels = channels_in


def init_gan_weights(module: nn.Module) -> None:
    """DCGAN-style initialisation used by StackGANv2/FineGAN: conv/linear N(0, 0.02), BN weight N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1] (the generators' range)."""
    return images * 2.0 - 1.0


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (the benchmark API's range), clamped."""
    return ((images + 1.0) * 0.5).clamp_(0.0, 1.0)
