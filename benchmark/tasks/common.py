"""What the task evaluators share: their options, their result type and batched image loading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from core.contract import Clusters, Method
from data_prep.datasets import ObjectImages
from data_prep.prepared import Prepared


@dataclass(frozen=True)
class EvalOptions:
    """How a task is scored. ``max_images`` caps the evaluation set (smoke runs), ``None`` = all."""

    batch_size: int = 64
    device: str = "cpu"
    max_images: int | None = None
    images_per_class: int = 150       # generation: FineGAN's protocol, 150 per child code
    evaluator: Path | None = None     # generation: the classifier checkpoint scoring FID/IS/CFID/CIS
    cache_dir: Path | None = None     # generation: cached real-image statistics
    inception_weights: Path | None = None  # generation: also FID/CFID on the standard FID Inception features
    seed: int = 0
    protocol: str = "onegan2020"      # benchmark.protocols name: which images, matching, reductions


@dataclass
class TaskResult:
    values: dict[str, float]
    options: dict = field(default_factory=dict)


def rows_with_objects(prepared: Prepared) -> np.ndarray:
    """Manifest indices of images that show an object (at least one box): every image of the real
    datasets, the ``fg`` images of the synthetic one (its ``bg`` images are clean backgrounds)."""
    has_box = prepared.manifest["boxes"].map(lambda s: len(json.loads(s)) > 0 if s else False)
    return np.flatnonzero(has_box.to_numpy())


def rows_with_masks(prepared: Prepared) -> np.ndarray:
    return np.flatnonzero((prepared.manifest["mask"] != "").to_numpy())


def subsample(indices: np.ndarray, max_images: int | None, seed: int) -> np.ndarray:
    if max_images is None or len(indices) <= max_images:
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, size=max_images, replace=False))


def batch_ids(prepared: Prepared, batch: dict) -> list[str]:
    """The manifest image ids of a batch (for file-backed external methods, which answer by id)."""
    return prepared.manifest["image_id"].to_numpy()[batch["index"].numpy()].tolist()


def validate_by_id(method: Method, prepared: Prepared, capability: str, rows: np.ndarray) -> None:
    """For a file-backed method (``by_id``): check its files for ``capability`` against every row the
    task scores at full scale (``rows``, before a preset's subsample), so a missing or malformed
    prediction anywhere fails now, naming the file and id, rather than pass unread."""
    if getattr(method, "by_id", False):
        method.validate(capability, prepared.manifest["image_id"].to_numpy()[rows].tolist())


def no_masks_hint(prepared: Prepared) -> str:
    """Why a prepared dataset cannot be scored on segmentation, and what would give it masks."""
    gt = "--masks gt (its own segmentations) or " if prepared.name == "cub" else ""
    return (f"{prepared.root} has no masks (prepared with --masks none); to score segmentation, prepare it "
            f"again with bench prep {gt}--masks deeplabv3-torchvision --weights FILE (pseudo-masks, as the "
            "paper's Dogs and Cars)")


def segment_batch(method: Method, prepared: Prepared, batch: dict, device: str) -> torch.Tensor:
    if getattr(method, "by_id", False):
        return method.segment_ids(batch_ids(prepared, batch), batch["image"].shape[-1])
    return method.segment(batch["image"].to(device))


def cluster_batch(method: Method, prepared: Prepared, batch: dict, device: str) -> Clusters:
    if getattr(method, "by_id", False):
        return method.cluster_ids(batch_ids(prepared, batch))
    return method.cluster(batch["image"].to(device))


def iterate_images(prepared: Prepared, indices: np.ndarray, batch_size: int, desc: str
                   ) -> Iterator[dict[str, torch.Tensor]]:
    """Batches ``{"image", "mask", "class_id", "parent_id", "index"}`` of the given manifest rows."""
    dataset = ObjectImages(prepared, role=None)
    loader = DataLoader(Subset(dataset, indices.tolist()), batch_size=batch_size, shuffle=False)
    yield from tqdm(loader, desc=desc, leave=False, unit="batch")
