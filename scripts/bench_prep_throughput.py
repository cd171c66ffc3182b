"""Throughput and memory of ``bench prep`` (not a test).

Builds a CUB-layout dataset of synthetic 500x375 JPEGs (CUB's typical size) with segmentations,
prepares it with ``--masks gt`` at size 128, and prints images/s and peak memory: the Python heap
peak of the main process (tracemalloc) and the peak resident set of the main process and of the
largest worker (getrusage). Run at two dataset sizes: bounded memory shows as peaks that do not grow
with the image count.

    .venv/bin/python scripts/bench_prep_throughput.py [--images 150 300] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from data_prep.build import PrepOptions, build


def make_cub_like(root: Path, n_images: int, classes: int = 10, seed: int = 0) -> Path:
    cub = root / "CUB_200_2011"
    rng = np.random.default_rng(seed)
    lines = {"images": [], "labels": [], "boxes": []}
    for i in range(1, n_images + 1):
        class_index = (i - 1) % classes
        class_dir = f"{class_index + 1:03d}.Class_{class_index}"
        (cub / "images" / class_dir).mkdir(parents=True, exist_ok=True)
        (root / "segmentations" / class_dir).mkdir(parents=True, exist_ok=True)
        width, height = 500, 375
        w, h = rng.uniform(120, 300), rng.uniform(100, 250)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        pixels[int(y):int(y + h), int(x):int(x + w)] = (230, 200, 20)
        rel = f"{class_dir}/img_{i:05d}.jpg"
        Image.fromarray(pixels).save(cub / "images" / rel, quality=90)
        seg = np.zeros((height, width), np.uint8)
        seg[int(y):int(y + h), int(x):int(x + w)] = 255
        Image.fromarray(seg).save(root / "segmentations" / class_dir / f"img_{i:05d}.png")
        lines["images"].append(f"{i} {rel}")
        lines["labels"].append(f"{i} {class_index + 1}")
        lines["boxes"].append(f"{i} {x:.1f} {y:.1f} {w:.1f} {h:.1f}")
    (cub / "images.txt").write_text("\n".join(lines["images"]) + "\n")
    (cub / "image_class_labels.txt").write_text("\n".join(lines["labels"]) + "\n")
    (cub / "bounding_boxes.txt").write_text("\n".join(lines["boxes"]) + "\n")
    (cub / "classes.txt").write_text("\n".join(f"{c + 1} {c + 1:03d}.Class_{c}" for c in range(classes)) + "\n")
    return cub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[150, 300])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    print(f"cpu cores: {os.cpu_count()}, workers: {args.workers}, size 128, masks gt, CUB-like 500x375 JPEGs")
    print(f"{'images':>7} {'seconds':>8} {'images/s':>9} {'heap peak MiB':>14} {'main RSS MiB':>13} "
          f"{'worker RSS MiB':>15}")
    for n in args.images:
        work = Path(tempfile.mkdtemp(prefix="prep_bench_"))
        try:
            cub = make_cub_like(work / "src", n)
            tracemalloc.start()
            start = time.perf_counter()
            build(PrepOptions(dataset="cub", root=cub, out=work / "out", masks="gt", size=128,
                              workers=args.workers, progress=False))
            seconds = time.perf_counter() - start
            _, heap_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"{n:>7} {seconds:>8.2f} {n / seconds:>9.1f} {heap_peak / 2**20:>14.2f} {main_rss:>13.1f} "
                  f"{child_rss:>15.1f}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
