"""Learned code embeddings (Eq. 2): v_bg = V_bg(e_bg), v_p = V_p(e_p), v_c = V_c(e_c), with e_bg = e_p (Eq. 1),
or one background code for every class (``ModelConfig.background_code = "single"``).

The one-hot vectors e are passed as class indices (an embedding lookup equals a linear map of the
one-hot vector).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from onegan.config import ModelConfig


class Codes(NamedTuple):
    v_bg: torch.Tensor
    v_p: torch.Tensor
    v_c: torch.Tensor


class CodeEmbeddings(nn.Module):
    """V_bg, V_p (over NP parents) and V_c (over NC children), to d_bg, d_p, d_c (``ModelConfig``)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        # V_bg, indexed by e_bg = e_p (or by one shared index: ModelConfig.background_code = "single")
        self.single_background = config.background_code == "single"
        self.background = nn.Embedding(1 if self.single_background else config.num_parents, config.background_code_dim)
        self.parent = nn.Embedding(config.num_parents, config.parent_code_dim)      # V_p
        self.child = nn.Embedding(config.num_classes, config.child_code_dim)       # V_c
        if config.code_init == "orthogonal":
            for table in (self.background, self.parent, self.child):
                _orthonormal_rows_(table.weight)

    def from_one_hot(self, child: torch.Tensor, parent: torch.Tensor) -> Codes:
        """The same codes from one-hot (or relaxed, e.g. straight-through) rows e_c (N, NC), e_p (N, NP):
        v = e · V, differentiable in e."""
        background = (self.background.weight.expand(parent.shape[0], -1) if self.single_background
                      else parent @ self.background.weight)
        return Codes(background, parent @ self.parent.weight, child @ self.child.weight)

    def forward(self, child: torch.Tensor, parent: torch.Tensor) -> Codes:
        background = torch.zeros_like(parent) if self.single_background else parent
        return Codes(self.background(background), self.parent(parent), self.child(child))


@torch.no_grad()
def _orthonormal_rows_(weight: torch.Tensor) -> None:
    """Rows of unit norm, mutually orthogonal where rows <= width: FineGAN's one-hot codes up to a
    rotation. Orthogonalises the N(0, 1) draw already in ``weight`` (QR, as ``nn.init.orthogonal_``
    does with a fresh one), so the global generator is left where the default init leaves it and every
    network built later starts the same."""
    rows, width = weight.shape
    q, r = torch.linalg.qr(weight.T if rows <= width else weight)
    q = q * torch.sign(torch.diagonal(r))  # the unique Q with a positive diagonal R
    weight.copy_(q.T if rows <= width else q)
    weight.div_(weight.norm(dim=1, keepdim=True))
