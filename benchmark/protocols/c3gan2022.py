"""C3-GAN's clustering protocol (Kim & Ha, ICLR 2022; naver-ai/c3-gan ``evals.py``, ``train.py``).

* Images: the official test list (``data/*/testset.txt``: CUB 5,794, Cars 8,041, Dogs 8,580).
* ACC with over-clustering: the method outputs ``over x K`` clusters for K classes (C3-GAN trains
  ``NUM_GT_CLASSES x OVER`` heads; OVER 2 for CUB, 3 for Cars/Dogs). The K x (over K) contingency's
  rows are repeated ``over`` times into a square table and matched one-to-one (Hungarian), so each
  class takes up to ``over`` clusters (many-to-one); ACC = matched images / all images.
* NMI = I(U; V) / max(H(U), H(V)), in bits, with eps = 1e-6 inside every log and added to p_i p_j in
  the mutual-information term (the eps makes it differ slightly from the exact max-normalised NMI).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmark.metrics.validation import as_labels
from benchmark.protocols.base import Protocol, Source

EPS = 1e-6


def class_cluster_table(labels: np.ndarray, clusters: np.ndarray, num_clusters: int | None = None,
                        num_classes: int | None = None) -> tuple[np.ndarray, int]:
    """Counts (K, over K) of images per (class, cluster), and the over-clustering factor ``over``.

    Labels index rows directly when ``num_classes`` is given (C3-GAN's class ids); otherwise the
    distinct labels are renumbered 0..K-1. Clusters index columns directly (a method's head ids).
    ``over = ceil(num_clusters / K)``, ``num_clusters`` defaulting to ``max(clusters) + 1``.
    """
    labels = as_labels("labels", labels)
    clusters = as_labels("clusters", clusters, length=labels.shape[0])
    if clusters.min() < 0:
        raise ValueError("clusters must be non-negative cluster indices")
    if num_classes is None:
        _, rows = np.unique(labels, return_inverse=True)
        num_classes = int(rows.max()) + 1
    else:
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}) when num_classes is given")
        rows = labels
    outputs = max(int(num_clusters or 0), int(clusters.max()) + 1)
    over = max(1, math.ceil(outputs / num_classes))
    table = np.zeros((num_classes, over * num_classes), dtype=np.int64)
    np.add.at(table, (rows, clusters), 1)
    return table, over


def many_to_one_accuracy(table: np.ndarray, over: int) -> float:
    """ACC from a (K, over K) table: rows repeated ``over`` times, then one-to-one Hungarian."""
    square = np.tile(table, (over, 1))
    row_index, col_index = linear_sum_assignment(square, maximize=True)
    return float(square[row_index, col_index].sum() / table.sum())


def nmi_max_bits(table: np.ndarray, eps: float = EPS) -> float:
    """C3-GAN's NMI of a (classes, clusters) count table; NaN when both entropies vanish."""
    p_ij = table / table.sum()
    p_i, p_j = p_ij.sum(axis=1), p_ij.sum(axis=0)
    h_i = float(-(p_i * np.log2(p_i + eps)).sum())
    h_j = float(-(p_j * np.log2(p_j + eps)).sum())
    mutual_information = float((p_ij * np.log2(p_ij / (np.outer(p_i, p_j) + eps) + eps)).sum())
    denominator = max(h_i, h_j)
    return mutual_information / denominator if denominator > 0 else math.nan


def score_clusters(labels: np.ndarray, clusters: np.ndarray, num_clusters: int | None = None,
                   num_classes: int | None = None) -> dict[str, float]:
    table, over = class_cluster_table(labels, clusters, num_clusters, num_classes)
    return {"acc": many_to_one_accuracy(table, over), "nmi": nmi_max_bits(table)}


PROTOCOL = Protocol(
    name="c3gan2022", version=1,
    title="C3-GAN (ICLR 2022): official test list, many-to-one ACC under over-clustering, max-normalised NMI",
    source=Source(paper="Kim & Ha, Contrastive Fine-grained Class Clustering via Generative Adversarial "
                        "Networks, ICLR 2022",
                  repository="github.com/naver-ai/c3-gan",
                  files=("evals.py (get_stat, get_match, get_acc, get_nmi)", "train.py (over-clustering)",
                         "datasets.py (Resize 128 + CenterCrop 128)", "data/*/testset.txt")),
    tasks=("clustering",),
    images="official-test",
    crop="the prepared crop (C3-GAN: Resize(128) + CenterCrop(128) of the image; whether a box crop comes "
         "first is unverified)",
    resolution=None,
    gt_binarisation="not applicable (no segmentation)",
    acc_matching="many-to-one: over = clusters / classes; class rows repeated over times, then Hungarian",
    nmi_normalisation="max(H_true, H_pred), log2, eps 1e-6 inside each log and added to p_i p_j",
    mask_reduction="not applicable",
    empty_masks="not applicable",
    cluster_scorer=score_clusters,
)
