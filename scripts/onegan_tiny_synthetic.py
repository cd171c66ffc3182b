"""Evidence run: train OneGAN's ``tiny`` preset on the synthetic dataset (CPU, one thread) and compare
its segmentation (IOU of ``segment`` thresholded at 0.5 vs the GT masks, mean over images) and
clustering (ACC/NMI of ``cluster``) with trivial floors: a centred box mask (of the mean GT area, and
of half the image side) and k-means on pixel colours (k = NC): the lead's floor, 4x4x4 RGB
histograms (n_init 4, seed 0), plus mean colour and 4x4 thumbnails. Training time is reported as
wall seconds and as this process's CPU seconds (the machine is shared, so wall time overstates it).
Writes ``results/studies/tiny_preset_design/onegan_tiny_synthetic.json``.

    .venv/bin/python scripts/onegan_tiny_synthetic.py [--data /tmp/onegan_syn] [--out /tmp/onegan_tiny]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans

from baselines.classical import ColourKMeansConfig, colour_features
from benchmark.metrics.clustering import clustering_accuracy, nmi
from core.atomic import write_json_atomic
from core.contract import TrainRequest
from core.provenance import command_line, git_commit, package_versions
from data_prep.datasets import ObjectImages
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic
from onegan.api import load, train


def per_image_iou(predicted: np.ndarray, target: np.ndarray) -> float:
    inter = (predicted & target).sum((1, 2, 3))
    union = (predicted | target).sum((1, 2, 3))
    return float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))


def centred_box(size: int, area: float, n: int) -> np.ndarray:
    side = int(round(size * np.sqrt(area)))
    start = (size - side) // 2
    box = np.zeros((n, 1, size, size), dtype=bool)
    box[:, :, start:start + side, start:start + side] = True
    return box


def kmeans_labels(features: np.ndarray, k: int, seed: int, n_init: int = 10) -> np.ndarray:
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(features)


def colour_histograms(images: torch.Tensor, bins: int = 4) -> np.ndarray:
    """Normalised bins x bins x bins RGB histogram of every image (N, bins**3)."""
    q = (images.clamp(0, 1) * bins).long().clamp(max=bins - 1)
    codes = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    hist = torch.stack([torch.bincount(c.flatten(), minlength=bins ** 3) for c in codes]).float()
    return (hist / hist.sum(1, keepdim=True)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/onegan_syn"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/onegan_tiny"))
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--result", type=Path,
                        default=Path("results/studies/tiny_preset_design/onegan_tiny_synthetic.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared
    if not (args.data / "meta.json").exists():
        write_synthetic(args.data, seed=0)
    start, cpu_start = time.monotonic(), time.process_time()
    checkpoint = train(TrainRequest(data=args.data, out=args.out, preset="tiny", seed=args.seed, resume=True,
                                    device="cpu", max_minutes=args.max_minutes, iterations=args.iterations))
    train_seconds, train_cpu_seconds = time.monotonic() - start, time.process_time() - cpu_start
    method = load(checkpoint, device="cpu")

    prepared = load_prepared(args.data)
    dataset = ObjectImages(prepared, role="fg")
    items = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([it["image"] for it in items])
    gt = torch.stack([it["mask"] for it in items]).numpy() > 0.5
    children = np.array([it["class_id"] for it in items])
    parents = np.array([it["parent_id"] for it in items])

    masks = method.segment(images).numpy() > 0.5
    clusters = method.cluster(images)
    child_pred, parent_pred = clusters.child.numpy(), clusters.parent.numpy()
    mean_area = float(gt.mean())
    size = gt.shape[-1]
    colours = images.mean((2, 3)).numpy()
    thumbs = F.adaptive_avg_pool2d(images, 4).flatten(1).numpy()
    nc = prepared.num_classes
    kmeans_colour = kmeans_labels(colours, nc, args.seed)
    kmeans_thumb = kmeans_labels(thumbs, nc, args.seed)
    kmeans_hist = kmeans_labels(colour_histograms(images), nc, 0, n_init=4)
    # The benchmark's own kmeans-colour floor (tiny preset: 8x8x8 RGB histogram, n_init 4).
    bench_cfg = ColourKMeansConfig()
    kmeans_bench = KMeans(n_clusters=nc, n_init=bench_cfg.n_init, max_iter=bench_cfg.max_iter,
                          random_state=0).fit_predict(colour_features(images, bench_cfg))

    def scores(pred: np.ndarray, labels: np.ndarray) -> dict:
        return {"acc": clustering_accuracy(labels, pred), "nmi": nmi(labels, pred)}

    result = {
        "dataset": {"root": str(args.data), "fingerprint": prepared.fingerprint, "images": len(items),
                    "num_classes": nc, "num_parents": prepared.num_parents},
        "onegan": {"iterations": method.iteration, "train_seconds": round(train_seconds, 1),
                   "train_cpu_seconds": round(train_cpu_seconds, 1),
                   "iterations_per_cpu_second": round(method.iteration / max(train_cpu_seconds, 1e-9), 3),
                   "iou": per_image_iou(masks, gt), "child": scores(child_pred, children),
                   "parent": scores(parent_pred, parents),
                   "predicted_mask_area": float(masks.mean())},
        "centred_box": {"iou_mean_gt_area": per_image_iou(centred_box(size, mean_area, len(items)), gt),
                        "iou_half_side": per_image_iou(centred_box(size, 0.25, len(items)), gt),
                        "mean_gt_area": mean_area},
        "kmeans_pixel_colours": {"rgb_histogram_4x4x4": scores(kmeans_hist, children),
                                 "benchmark_kmeans_colour_8x8x8": scores(kmeans_bench, children),
                                 "mean_colour": scores(kmeans_colour, children),
                                 "thumbnail_4x4": scores(kmeans_thumb, children)},
        "protocol": "IOU: segment() > 0.5 vs GT at 64 px, per-image mean; ACC: Hungarian; NMI: arithmetic",
        "preset": "tiny", "config": method.config.to_dict(), "seed": args.seed, "threads": 1,
        "git_commit": git_commit(), "versions": package_versions(), "command": command_line(),
    }
    write_json_atomic(args.result, result)
    box = max(result["centred_box"]["iou_mean_gt_area"], result["centred_box"]["iou_half_side"])
    floor = result["kmeans_pixel_colours"]["rgb_histogram_4x4x4"]
    bench = result["kmeans_pixel_colours"]["benchmark_kmeans_colour_8x8x8"]
    og = result["onegan"]
    print(f"IOU {og['iou']:.3f} vs centred box {box:.3f}; child ACC {og['child']['acc']:.3f} / NMI "
          f"{og['child']['nmi']:.3f} vs k-means on colour histograms 4x4x4 {floor['acc']:.3f} / {floor['nmi']:.3f}, "
          f"benchmark kmeans-colour 8x8x8 {bench['acc']:.3f} / {bench['nmi']:.3f}; "
          f"{og['iterations']} iterations in {og['train_cpu_seconds'] / 60:.1f} CPU-min "
          f"({og['train_seconds'] / 60:.1f} wall-min)")


if __name__ == "__main__":
    main()
