"""Invariant Information Clustering's objective (Ji, Henriques, Vedaldi, ICCV 2019), for images and
for pixels.

For a pair (x, x') = (x, g(x)) and soft assignments z = Φ(x), z' = Φ(x') over k clusters, IIC
maximises I(z, z') computed from the joint over the batch (IIC Eq. 3)

    P = 1/n Σ_i Φ(x_i) Φ(x'_i)^T,   symmetrised P <- (P + P^T) / 2,
    I(z, z') = Σ_cc' P_cc' · log( P_cc' / (P_c · P_c') ),

with P's entries clamped below at ``eps`` before the log (the paper's code does so for stability).
The loss is -I. IIC-seg (§3.2, Eq. 5) pairs each pixel u of Φ(x) with the pixels u + t, t in a small
window T, of g^{-1}Φ(g x) and sums the outer products over images, pixels and displacements.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

EPS = sys.float_info.epsilon


def symmetrise_and_normalise(joint: torch.Tensor) -> torch.Tensor:
    joint = (joint + joint.t()) / 2.0
    return joint / joint.sum()


def joint_from_pairs(probs: torch.Tensor, probs_paired: torch.Tensor) -> torch.Tensor:
    """P (k, k) from assignments (n, k) of images and of their transformed copies."""
    if probs.shape != probs_paired.shape or probs.dim() != 2:
        raise ValueError(f"expected two (n, k) tensors, got {tuple(probs.shape)} and {tuple(probs_paired.shape)}")
    return symmetrise_and_normalise(probs.t() @ probs_paired)


def joint_from_pixel_pairs(probs: torch.Tensor, probs_paired: torch.Tensor, radius: int) -> torch.Tensor:
    """P (k, k) from per-pixel assignments (n, k, h, w): Σ_i Σ_u Σ_{|t|_inf <= radius}
    Φ_u(x_i) Φ_{u+t}(x'_i)^T (zero padding outside the image), symmetrised and normalised.

    Computed as one cross-correlation with images as channels: the input is ``probs`` with (k, n)
    as (batch, channels) and the kernel ``probs_paired`` likewise, so output [c, c', dy, dx] is the
    sum over images and pixels of the products for displacement (dy, dx)."""
    if probs.shape != probs_paired.shape or probs.dim() != 4:
        raise ValueError(f"expected two (n, k, h, w) tensors, got {tuple(probs.shape)} and "
                         f"{tuple(probs_paired.shape)}")
    per_displacement = F.conv2d(probs.transpose(0, 1), probs_paired.transpose(0, 1), padding=radius)
    return symmetrise_and_normalise(per_displacement.sum(dim=(2, 3)))


def mutual_information(joint: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """I from a joint distribution (k, k) that sums to 1; the joint and its marginals (taken before
    clamping) are clamped at ``eps`` inside the log, as IIC's code does."""
    marginal_rows = joint.sum(dim=1, keepdim=True).clamp(min=eps)
    marginal_cols = joint.sum(dim=0, keepdim=True).clamp(min=eps)
    joint = joint.clamp(min=eps)
    return (joint * (joint.log() - marginal_rows.log() - marginal_cols.log())).sum()


def iic_loss(probs: torch.Tensor, probs_paired: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """-I(z, z') for image-level assignments (n, k)."""
    return -mutual_information(joint_from_pairs(probs, probs_paired), eps)


def iic_seg_loss(probs: torch.Tensor, probs_paired: torch.Tensor, radius: int, eps: float = EPS) -> torch.Tensor:
    """-I for per-pixel assignments (n, k, h, w) with IIC-seg's local spatial pairing."""
    return -mutual_information(joint_from_pixel_pairs(probs, probs_paired, radius), eps)
