"""One call from (real prepared images, fake images with their child codes, an extractor) to every
generation number of Table 1: FID, IS (mean, std), BCFID, WCFID, BCIS, WCIS, plus ``cfid`` / ``cis``
naming the ones the table reports (WCFID and BCIS; see ``benchmark.metrics.conditional``).

Conditions: ``fake_conditions[i]`` is the child code fake image i was generated from;
``real_conditions[j]`` the cluster the method assigns to real image j (order of
``ObjectImages(prepared, role)``; for the paper's "Dataset" row, the class labels). Conditional FIDs
need >= 2 real and >= 2 fake images of a condition: conditions short of that (e.g. a code the
encoder never assigns) are left out and counted in ``conditional_classes_used`` / ``_total``;
BCIS/WCIS use every fake image.
"""

from __future__ import annotations

import os

import numpy as np

from benchmark import metric_registry
from benchmark.features.extract import ImageSource, extract
from benchmark.features.registry import Extractor
from benchmark.metrics import (
    bcfid,
    bcis,
    features_to_statistics,
    fid,
    fid_from_statistics,
    inception_score,
    wcfid,
    wcis,
)
from benchmark.metrics.conditional import TABLE1_CFID, TABLE1_CIS
from benchmark.metrics.diversity import diversity_ratio
from benchmark.metrics.validation import as_labels
from benchmark.stats_cache import real_features
from data_prep.datasets import ObjectImages
from data_prep.prepared import Prepared

MIN_PER_CONDITION = 2


def _fid_with_cached_statistics(real, fake_features: np.ndarray) -> float:
    """FID reusing the cached real statistics when both sides have more samples than dimensions."""
    dim = fake_features.shape[1]
    if real.mu is not None and min(real.features.shape[0], fake_features.shape[0]) >= dim:
        return fid_from_statistics(real.mu, real.sigma, *features_to_statistics(fake_features))
    return fid(real.features, fake_features)


def generation_scores(prepared: Prepared, fake_images: ImageSource, fake_conditions: np.ndarray,
                      real_conditions: np.ndarray, extractor: Extractor, *, role: str | None = "fg",
                      cache_dir: str | os.PathLike | None = None, batch_size: int = 64, is_splits: int | None = None,
                      progress: bool = True) -> dict:
    """Table 1's generation scores of ``fake_images`` against ``prepared``'s images of ``role``.

    ``fake_images``: a tensor (N, 3, H, W) in [0, 1], a Dataset, or an iterable of batches.
    ``is_splits``: None picks what ``benchmark.metric_registry`` declares for the number of fakes
    (10 splits, or 1 below ``IS_MIN_IMAGES``; ``is_metric`` names the choice: ``is`` or ``is_1split``).
    Returns a dict: fid, is_mean, is_std, is_splits, is_metric, bcfid, wcfid, bcis, wcis, cfid, cis,
    diversity (``benchmark.metrics.diversity``), n_real, n_fake,
    conditional_classes_used, conditional_classes_total, extractor, real_from_cache.
    ``bcfid``/``wcfid`` are None when fewer than 2 / 1 conditions have enough samples.
    """
    real = real_features(prepared, extractor, cache_dir, role=role, batch_size=batch_size, progress=progress)
    fake_features, fake_probs = extract(fake_images, extractor, batch_size=batch_size, progress=progress,
                                        desc="fake")
    fake_conditions = as_labels("fake_conditions", fake_conditions, length=fake_features.shape[0])
    real_conditions = as_labels("real_conditions", real_conditions, length=real.features.shape[0])

    fake_classes, fake_counts = np.unique(fake_conditions, return_counts=True)
    real_counts = dict(zip(*np.unique(real_conditions, return_counts=True), strict=True))
    usable = [c for c, n in zip(fake_classes, fake_counts, strict=True)
              if n >= MIN_PER_CONDITION and real_counts.get(c, 0) >= MIN_PER_CONDITION]
    keep = np.isin(fake_conditions, usable)
    conditional_args = (real.features, real_conditions, fake_features[keep], fake_conditions[keep])

    if is_splits is None:
        is_metric = metric_registry.inception_score_metric(fake_features.shape[0])
        is_splits = metric_registry.splits_of(is_metric)
    else:  # an explicit split count (tests, scripts) has a registry name only for 10 and 1
        is_metric = {metric_registry.IS_SPLITS: metric_registry.get("is"), 1: metric_registry.get("is_1split")
                     }.get(is_splits)
    is_mean, is_std = inception_score(fake_probs, splits=is_splits)
    scores = {
        "fid": _fid_with_cached_statistics(real, fake_features),
        "is_mean": is_mean,
        "is_std": is_std,
        "is_splits": is_splits,
        "is_metric": None if is_metric is None else is_metric.name,
        "bcfid": bcfid(*conditional_args) if len(usable) >= 2 else None,
        "wcfid": wcfid(*conditional_args) if usable else None,
        "bcis": bcis(fake_probs, fake_conditions),
        "wcis": wcis(fake_probs, fake_conditions),
        # Within-code spread of the fakes over within-class spread of the reals (labels, not clusters).
        "diversity": diversity_ratio(fake_features, fake_conditions, real.features,
                                     ObjectImages(prepared, role=role).class_ids),
        "n_real": int(real.features.shape[0]),
        "n_fake": int(fake_features.shape[0]),
        "conditional_classes_used": len(usable),
        "conditional_classes_total": int(fake_classes.size),
        "extractor": extractor.identity,
        "real_from_cache": real.from_cache,
    }
    scores["cis"], scores["cfid"] = scores[TABLE1_CIS], scores[TABLE1_CFID]
    return scores
