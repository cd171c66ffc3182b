"""Discriminators D_bg and D_c (§3 "Discriminators") with FineGAN's topology (``D_NET`` in
``kkanshul/finegan`` ``code/model.py``), each with heads A, B and hidden features C.

- D_bg = FineGAN ``D_NET(0)``: ``encode_background_img`` (three 4x4 convs, no padding, strides
  ``ModelConfig.background_patch_strides``: FineGAN's (2, 2, 1), LeakyReLU, no normalisation) and two
  4x4 heads: A real/fake background logits (``uncond_logits1``), B background-vs-object logits
  (``uncond_logits2``); C the hidden feature map (perceptual loss between I_bg and Î_bg, Eq. 17).
  At FineGAN's strides every logit sees a 34-px patch.
- D_c = FineGAN ``D_NET(2)``: ``encode_parent_and_child_img`` (to 8x8), ``img_code_s32`` (to 4x4),
  ``img_code_s32_1``; A real/fake logit (``uncond_logits``, 4x4 conv), B child-class logits
  (``jointConv`` + ``logits``, the auxiliary task D_cB of Eq. 12), C the trunk's 8x8 features
  (perceptual loss between I and Î, Eq. 17). LNorm replaces FineGAN's BatchNorm, which OneGAN
  left for its batch-size dependence (§3 "GLU Layer Normalization").
All outputs are logits; the losses apply the sigmoid/softmax (FineGAN's ``nn.Sigmoid`` heads folded in).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from onegan.config import ModelConfig
from onegan.networks.blocks import CodePredictorTail, SameDownBlock, object_image_trunk

_HEAD_KERNEL = 4


class BackgroundJudgement(NamedTuple):
    real_fake: torch.Tensor      # D_bgA, (N, 1, P, P) patch logits
    background: torch.Tensor     # D_bgB, (N, 1, P, P): high = background patch
    features: torch.Tensor       # D_bgC


class ChildJudgement(NamedTuple):
    real_fake: torch.Tensor      # D_cA, (N,)
    child_logits: torch.Tensor   # D_cB, (N, NC)
    features: torch.Tensor       # D_cC


def background_trunk(config: ModelConfig, in_channels: int) -> nn.Sequential:
    """FineGAN ``encode_background_img``: 4x4 convs ndf, 2·ndf, 4·ndf (no padding, no bias), LeakyReLU."""
    layers: list[nn.Module] = []
    channels = in_channels
    for k, stride in enumerate(config.background_patch_strides):
        out = config.ndf * 2 ** k
        layers += [nn.Conv2d(channels, out, 4, stride=stride, padding=0, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        channels = out
    return nn.Sequential(*layers)


class BackgroundDiscriminator(nn.Module):
    """D_bg (FineGAN ``D_NET(0)``)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.features = background_trunk(config, 3)
        width = 4 * config.ndf
        self.real_fake = nn.Conv2d(width, 1, _HEAD_KERNEL)
        self.background = nn.Conv2d(width, 1, _HEAD_KERNEL)

    def forward(self, image: torch.Tensor) -> BackgroundJudgement:
        h = self.features(image)
        return BackgroundJudgement(self.real_fake(h), self.background(h), h)


class ChildDiscriminator(nn.Module):
    """D_c (FineGAN ``D_NET(2)``)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.features, widths = object_image_trunk(config)
        width = widths[-1]
        self.tail = CodePredictorTail(width)                               # img_code_s32, img_code_s32_1
        self.real_fake = nn.Conv2d(width, 1, _HEAD_KERNEL, stride=_HEAD_KERNEL)           # uncond_logits
        self.joint = SameDownBlock(width, width)                           # jointConv
        self.child = nn.Conv2d(width, config.num_classes, _HEAD_KERNEL, stride=_HEAD_KERNEL)  # logits

    def forward(self, image: torch.Tensor) -> ChildJudgement:
        h = self.features(image)
        code = self.tail(h)
        return ChildJudgement(self.real_fake(code).flatten(), self.child(self.joint(code)).flatten(1), h)


class DiscriminatorPair(nn.Module):
    """One D_bg and one D_c: the discriminators of one training path."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.background = BackgroundDiscriminator(config)
        self.child = ChildDiscriminator(config)
