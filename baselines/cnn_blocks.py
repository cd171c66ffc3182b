"""Plain convolutional blocks shared by the IIC, IIC-seg and ReDO baselines (VGG-style, BatchNorm)."""

from __future__ import annotations

from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, dilation: int = 1) -> nn.Sequential:
    """3x3 convolution (resolution kept) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def vgg_stage(in_channels: int, out_channels: int, pool: bool, dilation: int = 1) -> nn.Sequential:
    """Two conv_bn_relu layers, then a 2x2 max-pool when ``pool``."""
    layers: list[nn.Module] = [conv_bn_relu(in_channels, out_channels, dilation),
                               conv_bn_relu(out_channels, out_channels, dilation)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)
