"""Classical floors every learned method must clear.

- ``kmeans-colour`` (this module's trainable method, ``NAME``): k-means with k = NC (child clusters)
  and, separately, with k = NP (parent clusters: the floor of the parent level) on a colour
  description of each object image: a joint RGB histogram with ``bins``³ cells (``features=
  "histogram"``) or the image downsampled to ``pixel_size``² pixels (``features="pixels"``).
  scikit-learn ``KMeans`` seeded from the request; the centroids are the checkpoint and
  ``cluster(images)`` assigns the nearest centroid.
- :class:`FeatureKMeans` (``kmeans-features``): k-means with k = NC on the features of an evaluator
  network. It accepts any object with ``features(images) -> (N, D)`` (tensor or array), e.g. the
  benchmark's feature extractors, so this module does not depend on them; fit with
  :meth:`FeatureKMeans.fit`.
- :class:`CentredBox` (``centred-box``): the same mask for every image, a centred rectangle whose
  side is ``fraction`` of the image side. The default 2/3 matches the FineGAN crop used by the
  prepared format: the crop is a square of 1.5 x the bbox's larger side around the bbox centre, so
  the bbox spans 1/1.5 = 2/3 of the crop along its larger side (and is centred, unless the crop
  was clipped at the source image border).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans

from baselines.object_tensors import load_object_tensors
from baselines.single_loop import start_run
from core.contract import Clusters, Method, TrainRequest
from core.errors import UserError
from core.training_run import read_checkpoint

NAME = "kmeans-colour"


@dataclass(frozen=True)
class ColourKMeansConfig:
    features: Literal["histogram", "pixels"] = "histogram"
    bins: int = 8
    pixel_size: int = 8
    n_init: int = 4
    max_iter: int = 300


PRESETS = {
    "smoke": ColourKMeansConfig(bins=4, n_init=1, max_iter=50),
    "tiny": ColourKMeansConfig(),
    "paper": ColourKMeansConfig(n_init=10),
}


def colour_features(images: torch.Tensor, config: ColourKMeansConfig) -> np.ndarray:
    """(N, D) float64 colour descriptors of images (N, 3, H, W) in [0, 1]."""
    images = images.float().clamp(0.0, 1.0)
    if config.features == "pixels":
        small = F.interpolate(images, size=(config.pixel_size, config.pixel_size), mode="area")
        return small.flatten(1).double().numpy()
    if config.features != "histogram":
        raise UserError(f"kmeans-colour: unknown features {config.features!r} (histogram or pixels)")
    bins = config.bins
    quantised = (images * bins).long().clamp_(max=bins - 1)
    cell = quantised[:, 0] * bins * bins + quantised[:, 1] * bins + quantised[:, 2]
    counts = torch.zeros(images.shape[0], bins ** 3, dtype=torch.float64)
    counts.scatter_add_(1, cell.flatten(1), torch.ones_like(cell.flatten(1), dtype=torch.float64))
    return (counts / counts.sum(dim=1, keepdim=True)).numpy()


def nearest_centroid(features: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    distances = ((features[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return distances.argmin(axis=1).astype(np.int64)


class ColourKMeans(Method):
    name = NAME
    tasks = frozenset({"cluster"})

    def __init__(self, centroids: np.ndarray, config: ColourKMeansConfig, num_classes: int,
                 num_parents: int, parent_centroids: np.ndarray | None = None) -> None:
        self.centroids, self.parent_centroids, self.config = centroids, parent_centroids, config
        self.num_classes, self.num_parents = num_classes, num_parents

    def cluster(self, images: torch.Tensor) -> Clusters:
        features = colour_features(images.cpu(), self.config)
        parent = (None if self.parent_centroids is None
                  else torch.from_numpy(nearest_centroid(features, self.parent_centroids)))
        return Clusters(child=torch.from_numpy(nearest_centroid(features, self.centroids)), parent=parent)


def train(request: TrainRequest) -> Path:
    """Fit k-means (one "step"); the checkpoint holds the centroids."""
    begun = start_run(request, PRESETS, NAME, seed=False)
    config, prepared, run = begun.config, begun.prepared, begun.run
    run.restore(begun.payload)
    fitted: dict = {}

    def step(_: int) -> dict[str, float]:
        images = load_object_tensors(prepared, prepared.size).images.float().div_(255.0)
        features = colour_features(images, config)
        inertia = {}
        for key, k in (("centroids", prepared.num_classes), ("parent_centroids", prepared.num_parents)):
            kmeans = KMeans(n_clusters=k, n_init=config.n_init, max_iter=config.max_iter,
                            random_state=request.seed).fit(features)
            # tensors, not arrays: checkpoints hold data only (weights_only loading)
            fitted[key], inertia[key] = torch.from_numpy(kmeans.cluster_centers_), float(kmeans.inertia_)
        return {"inertia": inertia["centroids"], "parent_inertia": inertia["parent_centroids"]}

    return begun.train(1, step, lambda: {"centroids": fitted.get("centroids"),
                                         "parent_centroids": fitted.get("parent_centroids")}, 1)


def load(checkpoint: Path, device: str | None = None) -> ColourKMeans:
    payload = read_checkpoint(checkpoint, NAME)
    if payload.get("centroids") is None:
        raise UserError(f"{checkpoint}: k-means was not fitted yet (rerun training)")
    parent = payload.get("parent_centroids")
    return ColourKMeans(torch.as_tensor(payload["centroids"]).numpy(), ColourKMeansConfig(**payload["config"]),
                        payload["num_classes"], payload["num_parents"],
                        None if parent is None else torch.as_tensor(parent).numpy())


class FeatureExtractor(Protocol):
    def features(self, images: torch.Tensor) -> torch.Tensor | np.ndarray: ...


class FeatureKMeans(Method):
    """k-means (k = NC) on an evaluator's features; ``fit`` before ``cluster``."""

    name = "kmeans-features"
    tasks = frozenset({"cluster"})

    def __init__(self, extractor: FeatureExtractor, num_classes: int, seed: int = 0, n_init: int = 4,
                 batch: int = 256) -> None:
        if not callable(getattr(extractor, "features", None)):
            raise TypeError(f"{type(extractor).__name__} has no features(images) method")
        self.extractor, self.num_classes, self.seed, self.n_init, self.batch = (
            extractor, num_classes, seed, n_init, batch)
        self.centroids: np.ndarray | None = None

    def _features(self, images: torch.Tensor) -> np.ndarray:
        parts = []
        for start in range(0, images.shape[0], self.batch):
            out = self.extractor.features(images[start:start + self.batch])
            out = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
            parts.append(out.reshape(out.shape[0], -1).astype(np.float64))
        return np.concatenate(parts)

    def fit(self, images: torch.Tensor) -> FeatureKMeans:
        kmeans = KMeans(n_clusters=self.num_classes, n_init=self.n_init, random_state=self.seed)
        self.centroids = kmeans.fit(self._features(images)).cluster_centers_
        return self

    def cluster(self, images: torch.Tensor) -> Clusters:
        if self.centroids is None:
            raise RuntimeError("FeatureKMeans.cluster called before fit")
        return Clusters(child=torch.from_numpy(nearest_centroid(self._features(images), self.centroids)))


class CentredBox(Method):
    """The same centred-rectangle mask for every image (side = ``fraction`` x image side)."""

    name = "centred-box"
    tasks = frozenset({"segment"})

    def __init__(self, fraction: float = 2.0 / 3.0) -> None:
        if not 0.0 < fraction <= 1.0:
            raise UserError(f"centred-box: fraction must lie in (0, 1], got {fraction}")
        self.fraction = fraction

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        n, _, height, width = images.shape
        mask = torch.zeros(n, 1, height, width)
        box_h, box_w = round(self.fraction * height), round(self.fraction * width)
        top, left = (height - box_h) // 2, (width - box_w) // 2
        mask[:, :, top:top + box_h, left:left + box_w] = 1.0
        return mask
