"""What do the clusters follow? For kept OneGAN snapshots (``bench curve``'s ``snapshot_<budget>.pt``)
and the colour k-means floor, the NMI of the child and parent clusters on the synthetic world's object
images against each cue the world is built from (``data_prep.synthetic``): the child class, the parent
(shape), the hue family (child j of every parent shares its colour pair), the texture, and the hue of
the image's background (the mean colour outside the object's mask, in 6 hue bins; independent of the
class by construction), and the object's size (its mask's area in quartiles; not independent of the
parent: its lobes and elongation set its area, NMI(parent, size) = .134 on the default world).

A child clustering that follows hue alone scores NMI(hue) near its maximum and NMI(child) at about
log 3 / log 12 of it; the parent clustering should follow the shape. One JSON line per model to
``--result``.

    .venv/bin/python scripts/onegan_cluster_cues.py --data runs/synthetic-12c4p2400n64px \\
        --kmeans runs/checkpoints/<fp>/tiny/seed0/kmeans-colour/checkpoint.pt \\
        runs/curves/<fp>/tiny/seed0/onegan/snapshot_*.pt
"""

from __future__ import annotations

import argparse
import colorsys
import json
from pathlib import Path

import numpy as np
import torch

from baselines.classical import load as load_colour_kmeans
from benchmark.metrics.clustering import nmi
from core.atomic import append_jsonl, read_jsonl
from core.provenance import git_commit
from data_prep.datasets import ObjectImages
from data_prep.prepared import load_prepared, parent_of
from data_prep.synthetic import TEXTURES
from onegan.inference import OneGAN


def cues(prepared) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """The object images and, per image, each cue's label."""
    items = list(ObjectImages(prepared, role="fg"))
    child = np.array([it["class_id"] for it in items])
    parent = parent_of(child, prepared.num_classes, prepared.num_parents)
    hue = child % (prepared.num_classes // prepared.num_parents)  # j of child_appearances' divmod
    texture = (hue + parent) % len(TEXTURES)  # index into TEXTURES, as child_appearances assigns it
    images = torch.stack([it["image"] for it in items])
    outside = (torch.stack([it["mask"] for it in items]) < 0.5).float()
    background = ((images * outside).sum((2, 3)) / outside.sum((2, 3)).clamp(min=1)).numpy()
    background_hue = np.array([int(colorsys.rgb_to_hsv(*rgb)[0] * 6) % 6 for rgb in background])
    area = (1 - outside).mean((1, 2, 3)).numpy()
    size = np.searchsorted(np.quantile(area, [0.25, 0.5, 0.75]), area)
    return images, {"child": child, "parent": parent, "hue": hue, "texture": texture,
                    "background_hue": background_hue, "size": size}


CUES = ("child", "parent", "hue", "texture", "background_hue", "size")


def _mean_nmi(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows if key in r]  # rows written before a cue was added lack it
    return f"{np.mean(values):.3f}" if values else "–"


def summary(rows: list[dict]) -> str:
    """Markdown: mean NMI of each model group's child and parent clusters against every cue."""
    import re

    from tabulate import tabulate

    groups: dict[str, list[dict]] = {}
    for r in rows:
        budget = re.search(r"snapshot_0*(\d+)", r["checkpoint"])
        variant = re.search(r"--set (\S+) at iteration (\S+)", r["checkpoint"])  # a diagnosis run's row
        label = (r["label"] if "label" in r
                 else "k-means on colour histograms" if r["method"] == "kmeans-colour"
                 else f"OneGAN tiny @ {budget.group(1)} it" if budget
                 else f"OneGAN tiny, {variant.group(1)} @ {variant.group(2)} it" if variant
                 else f"OneGAN: {r['checkpoint']}")
        groups.setdefault(label, []).append(r)
    table = []
    for label, members in groups.items():
        for level in ("child", "parent"):
            table.append([label if level == "child" else "", level, len(members),
                          *(_mean_nmi(members, f"{level}_nmi_{cue}") for cue in CUES)])
    return tabulate(table, headers=["model", "clusters", "runs", *(f"NMI({c})" for c in CUES)], tablefmt="github")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("snapshots", nargs="*", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--kmeans", type=Path, default=None, help="the colour k-means floor's checkpoint")
    parser.add_argument("--result", type=Path, default=Path("results/studies/cluster_cues/onegan_cluster_cues.jsonl"))
    parser.add_argument("--summary", action="store_true", help="only print the Markdown table of --result")
    parser.add_argument("--label", default=None, help="the snapshots' row label in the --summary table")
    args = parser.parse_args()
    if args.summary:
        print(summary(read_jsonl(args.result)))
        return
    torch.set_num_threads(1)
    prepared = load_prepared(args.data)
    images, labels = cues(prepared)
    models = [("kmeans-colour", args.kmeans, load_colour_kmeans)] if args.kmeans else []
    models += [("onegan", s, lambda path: OneGAN.from_checkpoint(path, "cpu")) for s in args.snapshots]
    for name, source, load in models:
        clusters = load(source).cluster(images)
        row = {"method": name, "checkpoint": str(source), "dataset_fingerprint": prepared.fingerprint,
               "git_commit": git_commit(), "images": len(images),
               **({"label": args.label} if args.label and name == "onegan" else {})}
        for level, predicted in (("child", clusters.child.numpy()), ("parent", clusters.parent.numpy())):
            row[f"{level}_clusters_used"] = len(np.unique(predicted))
            for cue, truth in labels.items():
                row[f"{level}_nmi_{cue}"] = round(nmi(truth, predicted), 4)
        print(json.dumps(row), flush=True)
        args.result.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(args.result, row)  # locked: sweeps run many of these on one file


if __name__ == "__main__":
    main()
