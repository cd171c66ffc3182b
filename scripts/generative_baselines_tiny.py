"""Evidence run: train FineGAN and StackGANv2 (each "+ our encoders") at the ``tiny`` preset on the
synthetic dataset (CPU, one thread) and score them on the fg images: IOU of FineGAN's ``segment``
(thresholded at 0.5 against the GT masks; mean over images and pooled) and ACC/NMI of both
``cluster`` outputs (child clusters vs child labels; parent clusters vs parent labels). Writes
``results/studies/baselines_tiny/baselines_generative_tiny.json`` with CPU/wall time of each training.

    .venv/bin/python scripts/generative_baselines_tiny.py [--data /tmp/gb_synth] [--work /tmp/gb_tiny]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from baselines import finegan, stackgan
from baselines.object_tensors import load_object_tensors
from benchmark.metrics.clustering import clustering_accuracy, nmi
from benchmark.metrics.segmentation import iou
from core.atomic import write_json_atomic
from core.contract import TrainRequest
from core.provenance import git_commit, package_versions
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic


def evaluate(method, data, batch: int = 256) -> dict:
    child, parent, masks = [], [], []
    for start in range(0, len(data), batch):
        images = data.images[start:start + batch].float() / 255.0
        clusters = method.cluster(images)
        child.append(clusters.child.numpy())
        parent.append(clusters.parent.numpy())
        if method.can("segment"):
            masks.append(method.segment(images).numpy())
    child, parent = np.concatenate(child), np.concatenate(parent)
    labels, parent_labels = data.class_id.numpy(), data.parent_id.numpy()
    scores = {
        "acc": clustering_accuracy(labels, child), "nmi": nmi(labels, child),
        "nmi_max": nmi(labels, child, normalization="max"),
        "parent_acc": clustering_accuracy(parent_labels, parent), "parent_nmi": nmi(parent_labels, parent),
        "clusters_used": int(len(np.unique(child))), "images": int(len(labels)),
    }
    if masks:
        segmentation = iou(np.concatenate(masks), data.masks.numpy())
        scores["iou_mean"], scores["iou_pooled"] = segmentation.mean, segmentation.pooled
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/gb_synth"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/gb_tiny"))
    parser.add_argument("--result", type=Path,
                        default=Path("results/studies/baselines_tiny/baselines_generative_tiny.json"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not (args.data / "meta.json").exists():
        write_synthetic(args.data, classes=12, parents=4, images=2400, size=64, seed=0)
    prepared = load_prepared(args.data)
    data = load_object_tensors(prepared, prepared.size)
    record = {"dataset": prepared.name, "fingerprint": prepared.fingerprint, "preset": "tiny",
              "seed": args.seed, "threads": 1, "git_commit": git_commit(), "versions": package_versions(),
              "protocol": "fg images; cluster = argmax of the fitted style encoder; IOU of segment > 0.5 vs GT "
                          "masks at 64 px, mean over images and pooled; NMI arithmetic (sklearn) and max",
              "methods": {}}
    for module in (finegan, stackgan):
        out = args.work / module.NAME
        wall, cpu = time.monotonic(), time.process_time()
        checkpoint = module.train(TrainRequest(data=args.data, out=out, preset="tiny", seed=args.seed,
                                               resume=False, restart=True, device="cpu"))
        timing = {"train_wall_s": round(time.monotonic() - wall, 1),
                  "train_cpu_s": round(time.process_time() - cpu, 1)}
        method = module.load(checkpoint, device="cpu")
        scores = evaluate(method, data)
        record["methods"][module.NAME] = {**scores, **timing, "gan_iterations": method.gan_iteration,
                                          "encoder_iterations": method.encoder_iteration}
        print(module.NAME, record["methods"][module.NAME], flush=True)
    write_json_atomic(args.result, record)


if __name__ == "__main__":
    main()
