"""Discriminators D_bg and D_c (§3 "Discriminators"), each with heads A, B and hidden features C.

- D_bg (patch-wise, on S/4 x S/4 patches): A real/fake background logits, B background-vs-object logits,
  C the hidden feature map (perceptual loss between I_bg and the reconstructed Î_bg, Eq. 17).
- D_c (whole image): A real/fake logit (N,), B child-class logits (N, NC) (auxiliary task D_cB, Eq. 12),
  C hidden features at S/4 (perceptual loss between I and Î, Eq. 17).
All outputs are logits; losses apply the sigmoid/softmax.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from onegan.config import ModelConfig
from onegan.networks.blocks import down_path, preimage_resolution

_HEAD_RESOLUTION = 4


class BackgroundJudgement(NamedTuple):
    real_fake: torch.Tensor      # D_bgA, (N, 1, S/4, S/4)
    background: torch.Tensor     # D_bgB, (N, 1, S/4, S/4): high = background patch
    features: torch.Tensor       # D_bgC


class ChildJudgement(NamedTuple):
    real_fake: torch.Tensor      # D_cA, (N,)
    child_logits: torch.Tensor   # D_cB, (N, NC)
    features: torch.Tensor       # D_cC


class BackgroundDiscriminator(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.features, channels = down_path(config, 3, config.image_size, preimage_resolution(config))
        self.real_fake = nn.Conv2d(channels, 1, 3, padding=1)
        self.background = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, image: torch.Tensor) -> BackgroundJudgement:
        h = self.features(image)
        return BackgroundJudgement(self.real_fake(h), self.background(h), h)


class ChildDiscriminator(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        quarter = preimage_resolution(config)
        self.features, channels = down_path(config, 3, config.image_size, quarter)
        self.to_head, head_channels = down_path(config, channels, quarter, _HEAD_RESOLUTION)
        flat = head_channels * _HEAD_RESOLUTION ** 2
        self.real_fake = nn.Linear(flat, 1)
        self.child = nn.Linear(flat, config.num_classes)

    def forward(self, image: torch.Tensor) -> ChildJudgement:
        h = self.features(image)
        flat = self.to_head(h).flatten(1)
        return ChildJudgement(self.real_fake(flat).squeeze(1), self.child(flat), h)


class DiscriminatorPair(nn.Module):
    """One D_bg and one D_c: the discriminators of one training path."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.background = BackgroundDiscriminator(config)
        self.child = ChildDiscriminator(config)
