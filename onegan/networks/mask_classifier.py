"""Q_m: the parent class from the generated mask's outline alone (``ModelConfig.mask_parent_classifier``;
not in the paper).

Eq. 12 asks E_p to recover φ_p from the whole image I. Nothing there makes the *shape* carry the
parent: on the synthetic world the generator puts φ_p into the background's hue (e_bg = e_p) and
leaves the outline to z, so E_p never learns shape and the parent clusters of real images follow
nothing (docs/findings/cluster-cues.md). Q_m, trained into the generator with CE(Q_m(I_m), φ_p)
(InfoGAN's Q on one factor), can only be lowered by outlines that differ per parent, which is what the
paper says the generator should learn ("all foreground images with the same e_p will have the same
object shape").

What Q_m sees is the outline and nothing else of the mask. A classifier of the raw mask was measured
to be fooled: the generator marked each parent by the mask's *size* and grey level (1,200 iterations,
`results/studies/z_diagnosis/onegan_z_diagnosis.jsonl`, rows ``qm_raw*``), cues real parents do not have. So the mask is
binarised (straight-through: hard forward, identity gradient) and resampled into its own frame: centred
on its centroid and scaled by its radius of gyration (moments detached), so position, size and grey
level tell Q_m nothing.

Body: three 4x4 stride-2 convs (ndf/2, ndf, 2·ndf; LeakyReLU, no normalisation), a global average
(the outline may appear at any rotation) and a linear layer to NP logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from onegan.config import ModelConfig

# The frame spans ±FRAME_SPAN radii of gyration: a disc of radius R has radius of gyration R/√2, so
# ±2.2 of them holds the disc with room for lobes that reach out past its mean radius.
FRAME_SPAN = 2.2


def canonical_outline(mask: torch.Tensor, span: float = FRAME_SPAN) -> torch.Tensor:
    """The binarised mask (N, 1, S, S) resampled at S x S around its centroid, ±``span`` radii of
    gyration wide; values in {0, 1} forward, the straight-through gradient of ``mask`` backward."""
    mask = mask.float()
    binary = mask + ((mask > 0.5).float() - mask).detach()
    n, _, h, w = mask.shape
    with torch.no_grad():
        weights = mask.flatten(1)
        area = weights.sum(1).clamp_min(1e-6)
        ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=mask.device)
        xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=mask.device)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        cx = (weights * grid_x.flatten()).sum(1) / area
        cy = (weights * grid_y.flatten()).sum(1) / area
        spread = (weights * ((grid_x.flatten() - cx[:, None]) ** 2 + (grid_y.flatten() - cy[:, None]) ** 2)).sum(1)
        radius = (spread / area).sqrt().clamp_min(2.0 / max(h, w))  # an empty or one-pixel mask stays finite
        theta = torch.zeros(n, 2, 3, device=mask.device)
        theta[:, 0, 0] = theta[:, 1, 1] = span * radius
        theta[:, 0, 2], theta[:, 1, 2] = cx, cy
        grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    return F.grid_sample(binary, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class MaskParentClassifier(nn.Module):
    """Q_m: I_m (N, 1, S, S) in [0, 1] -> parent logits (N, NP), from the canonical outline."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        widths = (1, max(config.ndf // 2, 4), config.ndf, 2 * config.ndf)
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(w_in, w_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.logits = nn.Linear(widths[-1], config.num_parents)

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(canonical_outline(mask) * 2 - 1))
