"""Train the IIC / IIC-seg / ReDO / classical baselines at a preset on the synthetic dataset and score
them (IOU/DICE for segmenters, ACC/NMI for clusterers) into a JSON file.

    .venv/bin/python scripts/eval_baselines_other_tiny.py --data /tmp/syn64 --runs runs/baselines \
        --out results/studies/baselines_tiny/baselines_other_tiny.json [--only iic,redo] [--preset tiny]

The synthetic data is written with ``data_prep.synthetic.write_synthetic`` defaults when ``--data``
does not exist. One thread (the numbers are CPU timings on a shared machine).
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

import numpy as np
import torch

from baselines.classical import CentredBox
from baselines.object_tensors import load_object_tensors
from benchmark.metrics.clustering import clustering_accuracy, nmi
from benchmark.metrics.segmentation import mask_overlaps
from core.atomic import write_json_atomic
from core.contract import TrainRequest
from core.provenance import git_commit, package_versions
from data_prep.prepared import load_prepared

MODULES = {"iic": "baselines.iic", "iic-seg": "baselines.iic_seg", "redo": "baselines.redo",
           "kmeans-colour": "baselines.classical"}


def _iou(masks: torch.Tensor, gt: torch.Tensor, swap_invariant: bool) -> dict[str, float]:
    overlaps = mask_overlaps(masks[:, 0].numpy(), gt[:, 0].numpy(), swap_invariant=swap_invariant)
    iou = overlaps.intersection / np.maximum(overlaps.union, 1)
    dice = 2 * overlaps.intersection / np.maximum(overlaps.predicted + overlaps.target, 1)
    return {"IOU": 100 * float(iou.mean()), "DICE": 100 * float(dice.mean())}


def score(method, images: torch.Tensor, gt: torch.Tensor, labels: np.ndarray) -> dict:
    result = {}
    if method.can("segment"):
        masks = method.segment(images)
        result["segment"] = _iou(masks, gt, swap_invariant=False)
        result["segment_swap_invariant"] = _iou(masks, gt, swap_invariant=True)
    if method.can("cluster"):
        clusters = method.cluster(images).child.numpy()
        result["cluster"] = {"ACC": clustering_accuracy(labels, clusters), "NMI": nmi(labels, clusters)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--only", default=",".join(MODULES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.data.exists():
        from data_prep.synthetic import write_synthetic
        write_synthetic(args.data)
    prepared = load_prepared(args.data)
    data = load_object_tensors(prepared, prepared.size)
    images = data.images.float() / 255.0
    gt = data.masks.float()
    labels = data.class_id.numpy()
    report = {"data": str(args.data), "fingerprint": prepared.fingerprint, "preset": args.preset,
              "seed": args.seed, "images_scored": len(labels), "git_commit": git_commit(),
              "versions": package_versions(), "threads": 1, "methods": {}}
    for name in args.only.split(","):
        module = importlib.import_module(MODULES[name])
        start = time.monotonic()
        checkpoint = module.train(TrainRequest(data=args.data, out=args.runs / name, preset=args.preset,
                                               seed=args.seed, resume=False, restart=True))
        train_s = time.monotonic() - start
        method = module.load(checkpoint)
        report["methods"][name] = {"train_seconds": round(train_s, 1), **score(method, images, gt, labels)}
        print(name, report["methods"][name], flush=True)
    box = CentredBox()
    report["methods"]["centred-box"] = {"train_seconds": 0.0, **score(box, images, gt, labels)}
    print("centred-box", report["methods"]["centred-box"])
    write_json_atomic(args.out, report)


if __name__ == "__main__":
    main()
