"""Nuisance augmentation of generated images before the encoders classify them (paper-silent;
``LossConfig.nuisance_augmentation``: on in the ``tiny`` preset, off in ``paper`` and ``smoke``).

Why: the classification loss L_E (Eq. 12) lets the generator mark each code with whatever the
encoders read most cheaply on a *generated* image. Measured on the tiny preset without it
(docs/findings/code-carriers.md; ``scripts/onegan_code_carriers.py``), E_p and E_c classify fakes at 99 % but
fall to chance (24 %) when the generated object is put on another sample's background, and at 7,200
iterations E_p falls to 9 % on a mirrored fake:
the codes sit in the background and in the pose's handedness. Real images carry neither (their
backgrounds are independent of the class, their poses are random and they are flipped in training), so
clusters learnt from those cues do not transfer. Classifying a copy of I whose nuisances are
re-drawn removes them as carriers: what is left to mark a code with is what the transforms keep,
the object's colours, texture and outline.

``LossConfig.augment_parent_hue`` also rotates the hue of E_p's copy (a rotation of RGB about the grey
axis, by a random angle per sample): the paper's E_p is the *shape* encoder ("all foreground images
with the same e_p will have the same object shape"), and with the nuisances gone the generator's next
cheapest mark for a parent is its hue, which real parents do not have (every hue occurs in every
parent here). E_c keeps the colours: the child is the style.

The copy is Eq. 5 recomposed on another sample's background (``augment_swap_background``; the next
sample of this process's batch), then one random
similarity per sample (rotation, isotropic scale, mirror, translation; bilinear, reflection padding)
and a brightness factor. Everything is differentiable, so the generator learns through it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from onegan.config import LossConfig
from onegan.networks.generators import compose

DRAWS_PER_SAMPLE = 6  # rotation, scale, mirror, translation x, translation y, brightness


def nuisance_augment(foreground: torch.Tensor, mask: torch.Tensor, background: torch.Tensor,
                     uniform: torch.Tensor, config: LossConfig) -> torch.Tensor:
    """I_aug: (I_fg, I_m) recomposed on a re-drawn background, moved by a random similarity and
    brightened; ``uniform`` is (N, DRAWS_PER_SAMPLE) in [0, 1) (the trainer's per-sample draws).
    Images in [-1, 1]."""
    n = mask.shape[0]
    if uniform.shape != (n, DRAWS_PER_SAMPLE):
        raise ValueError(f"need ({n}, {DRAWS_PER_SAMPLE}) uniform draws, got {tuple(uniform.shape)}")
    uniform = uniform.to(mask.dtype)
    # Another sample's background (the next one in the batch): its code is another draw.
    image = compose(background.roll(1, 0) if config.augment_swap_background and n > 1 else background,
                    foreground, mask)
    angle = (2 * uniform[:, 0] - 1) * math.radians(config.augment_rotation_degrees)
    low, high = config.augment_scale
    scale = low + (high - low) * uniform[:, 1]
    mirror = torch.where(uniform[:, 2] < 0.5, -1.0, 1.0).to(mask.dtype)
    shift = (2 * uniform[:, 3:5] - 1) * config.augment_translate
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # affine_grid maps output to input coordinates: x_in = R(θ)·diag(mirror, 1)·x_out / s + shift.
    theta = torch.stack([torch.stack([mirror * cos, -sin, shift[:, 0]], 1),
                         torch.stack([mirror * sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    moved = F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    brightness = 1 + (2 * uniform[:, 5] - 1) * config.augment_brightness
    return ((moved + 1) * brightness.view(-1, 1, 1, 1) - 1).clamp(-1, 1)


def rotate_hue(image: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Each image's RGB rotated about the grey axis by 2π·uniform[i] (Rodrigues' formula; in [-1, 1],
    where mid-grey is the origin, so greys and each pixel's distance from grey are kept)."""
    angle = 2 * math.pi * uniform.to(image.dtype).reshape(-1)
    axis = torch.full((3,), 3 ** -0.5, dtype=image.dtype, device=image.device)
    eye = torch.eye(3, dtype=image.dtype, device=image.device)
    # [[0, -1, 1], [1, 0, -1], [-1, 1, 0]] (the cross product with (1, 1, 1)) made on the device, not
    # copied from host data, so that a CUDA graph can capture it (onegan/step_capture.py).
    cycle = eye.roll(1, dims=0)
    cross = (cycle - cycle.T) * 3 ** -0.5
    outer = torch.outer(axis, axis)
    cos, sin = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
    rotation = cos * eye + sin * cross + (1 - cos) * outer          # (N, 3, 3)
    return torch.einsum("nij,njhw->nihw", rotation, image).clamp(-1, 1)
