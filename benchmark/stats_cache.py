"""Real-data features cached on disk, so a second evaluation only extracts the fake side
(StyleGAN2-ADA and torch-fidelity cache the same way).

One ``.npz`` per (prepared-data fingerprint, extractor identity, role, options), written atomically,
holding features (N, D), probabilities (N, K), class ids, image ids (the order of
``ObjectImages(prepared, role)``, which callers' real conditions must follow) and the FID statistics
(mean, covariance). A cache file that is unreadable or no longer matches the prepared rows is
recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.features.extract import extract
from benchmark.features.registry import Extractor
from benchmark.metrics.fid import features_to_statistics
from core.atomic import atomic_path
from data_prep.datasets import ObjectImages
from data_prep.prepared import Prepared

CACHE_VERSION = 1


@dataclass
class RealFeatures:
    """Extractor outputs for the real images of one role, in ``ObjectImages(prepared, role)`` order."""

    features: np.ndarray
    probs: np.ndarray
    class_ids: np.ndarray
    image_ids: np.ndarray
    mu: np.ndarray | None
    sigma: np.ndarray | None
    cache_path: Path | None
    from_cache: bool


def cache_key(prepared: Prepared, extractor: Extractor, role: str | None, options: dict | None = None) -> str:
    """Hex digest naming the cache entry: changes with the data, the extractor or the options."""
    payload = {"version": CACHE_VERSION, "fingerprint": prepared.fingerprint, "extractor": extractor.identity,
               "role": role, "options": options or {}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def cache_file(prepared: Prepared, extractor: Extractor, cache_dir: str | os.PathLike, role: str | None,
               options: dict | None = None) -> Path:
    return Path(cache_dir) / f"{prepared.name}-{role or 'all'}-{cache_key(prepared, extractor, role, options)}.npz"


def _load(path: Path, image_ids: np.ndarray) -> RealFeatures | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            if not np.array_equal(stored["image_ids"], image_ids):
                return None
            has_stats = "mu" in stored.files
            return RealFeatures(stored["features"], stored["probs"], stored["class_ids"], stored["image_ids"],
                                stored["mu"] if has_stats else None, stored["sigma"] if has_stats else None,
                                path, from_cache=True)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def real_features(prepared: Prepared, extractor: Extractor, cache_dir: str | os.PathLike | None,
                  role: str | None = "fg", batch_size: int = 64, progress: bool = True) -> RealFeatures:
    """Features/probabilities of the prepared images of ``role`` ("fg", "bg" or None for all),
    read from ``cache_dir`` when present there, else extracted and saved (``cache_dir=None``: no cache)."""
    dataset = ObjectImages(prepared, role=role)
    if len(dataset) == 0:
        raise ValueError(f"{prepared.root} has no images with role {role!r}")
    image_ids = dataset.rows["image_id"].to_numpy().astype(str)
    path = cache_file(prepared, extractor, cache_dir, role) if cache_dir is not None else None
    if path is not None and path.is_file():
        cached = _load(path, image_ids)
        if cached is not None:
            return cached
    features, probs = extract(dataset, extractor, batch_size=batch_size, progress=progress,
                              desc=f"real {prepared.name}/{role or 'all'}")
    mu, sigma = features_to_statistics(features) if features.shape[0] >= 2 else (None, None)
    result = RealFeatures(features, probs, dataset.class_ids.copy(), image_ids, mu, sigma, path, from_cache=False)
    if path is not None:
        arrays = {"features": features, "probs": probs, "class_ids": result.class_ids, "image_ids": image_ids}
        if mu is not None:
            arrays.update(mu=mu, sigma=sigma)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return result
