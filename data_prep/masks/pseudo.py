"""Pseudo-mask jobs shared by the two DeepLabV3 backends (no torch, no mxnet here).

The build writes, for every crop, the DeepLabV3 input (the same crop rectangle of the source
image resized to ``input_size`` x ``input_size``) to a scratch PNG and one JSON line describing the
job. A backend predicts the 21-class VOC labels of each input and calls :func:`finish_job`, which
keeps the dataset's class inside the main box (in input coordinates) and writes the mask at the
prepared size (nearest), 0/255.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class MaskJob:
    input: str          # scratch RGB PNG, input_size x input_size
    output: str         # mask PNG to write, size x size
    box: tuple[float, float, float, float]  # main box in input-image pixels (x, y, w, h)
    size: int
    voc_class: int


def write_jobs(path: Path, jobs: list[MaskJob]) -> None:
    with open(path, "w") as fh:
        for job in jobs:
            fh.write(json.dumps(asdict(job)) + "\n")


def read_jobs(path: Path) -> list[MaskJob]:
    jobs = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            record["box"] = tuple(record["box"])
            jobs.append(MaskJob(**record))
    return jobs


def batches(jobs: list[MaskJob], batch_size: int) -> Iterator[list[MaskJob]]:
    for start in range(0, len(jobs), batch_size):
        yield jobs[start:start + batch_size]


def load_normalised(jobs: list[MaskJob]) -> np.ndarray:
    """(N, 3, H, W) float32 ImageNet-normalised batch of the jobs' inputs."""
    arrays = []
    for job in jobs:
        with Image.open(job.input) as im:
            arrays.append((np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD)
    return np.stack(arrays).transpose(0, 3, 1, 2).copy()


def box_mask(box: tuple[float, float, float, float], height: int, width: int) -> np.ndarray:
    """Pixels whose centre lies inside the box."""
    ys = np.arange(height) + 0.5
    xs = np.arange(width) + 0.5
    inside_y = (ys >= box[1]) & (ys < box[1] + box[3])
    inside_x = (xs >= box[0]) & (xs < box[0] + box[2])
    return inside_y[:, None] & inside_x[None, :]


def keep_class_in_box(labels: np.ndarray, voc_class: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """Foreground = pixels labelled ``voc_class`` that lie inside the box."""
    return (labels == voc_class) & box_mask(box, *labels.shape)


def finish_job(job: MaskJob, labels: np.ndarray) -> None:
    """Write the job's mask from the predicted label map (H, W) of its input."""
    mask = keep_class_in_box(labels, job.voc_class, job.box)
    image = Image.fromarray(mask.astype(np.uint8) * 255).resize((job.size, job.size), Image.Resampling.NEAREST)
    image.save(job.output)
