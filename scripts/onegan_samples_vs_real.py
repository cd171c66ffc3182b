"""One figure: real object images of each child class (left; 32 px, the tiny model's size) beside a
OneGAN snapshot's samples of each child code (right; the same z per column) and their masks.
Rows are child classes/codes in order, so rows 3p..3p+2 share parent p. Hungarian matching is not
applied: a code's row need not be the class's row.

    .venv/bin/python scripts/onegan_samples_vs_real.py --data runs/synthetic-12c4p2400n64px \\
        --snapshot runs/curves/<fp>/tiny/seed0/onegan/snapshot_0007200.pt \\
        --out results/studies/curves_faithful/figures/x.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torchvision

from core.atomic import atomic_path
from data_prep.datasets import ObjectImages
from data_prep.prepared import load_prepared, parent_of
from onegan.inference import OneGAN
from onegan.model import to_unit_range


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-row", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    method = OneGAN.from_checkpoint(args.snapshot, "cpu")
    m, n = method.config.model, args.per_row
    items = list(ObjectImages(load_prepared(args.data), role="fg"))
    z = torch.randn(n, m.z_dim, generator=torch.Generator().manual_seed(0))
    rows = []
    with torch.no_grad():
        for c in range(m.num_classes):
            real = torch.stack([it["image"] for it in items if it["class_id"] == c][:n])
            real = torch.nn.functional.interpolate(real, size=(m.image_size, m.image_size), mode="bilinear",
                                                   antialias=True, align_corners=False)
            child = torch.full((n,), c)
            out = method.model.generate(child, parent_of(child, m.num_classes, m.num_parents), z)
            gap = torch.ones(1, 3, m.image_size, m.image_size)
            rows.append(torch.cat([real, gap, to_unit_range(out.image), gap, out.mask.expand(-1, 3, -1, -1)]))
    grid = torch.nn.functional.interpolate(torch.cat(rows), scale_factor=2, mode="nearest")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        torchvision.utils.save_image(grid, tmp, nrow=3 * n + 2, format="png")
    print(args.out)


if __name__ == "__main__":
    main()
