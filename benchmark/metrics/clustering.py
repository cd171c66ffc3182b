"""Clustering scores of real images against their class labels (OneGAN Table 2, right half).

* ACC: the fraction of images whose cluster, under the best one-to-one map of clusters to labels,
  equals their label. The map is a maximum-weight matching on the contingency table (Hungarian,
  ``scipy.optimize.linear_sum_assignment``). With more clusters than classes the extra clusters map
  to nothing and count as wrong (and vice versa), the usual convention of JULE/DEPICT/IIC.
* NMI: mutual information I(U; V) divided by the arithmetic mean of the entropies (scikit-learn's
  default, used by IIC) or by their max (C3-GAN). Natural logs; the ratio does not depend on the base.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmark.metrics.validation import as_labels


def contingency_table(labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Counts (n_labels, n_clusters) of images per (label, cluster) pair (labels need not be 0..k-1)."""
    labels = as_labels("labels", labels)
    clusters = as_labels("clusters", clusters, length=labels.shape[0])
    _, label_index = np.unique(labels, return_inverse=True)
    _, cluster_index = np.unique(clusters, return_inverse=True)
    table = np.zeros((label_index.max() + 1, cluster_index.max() + 1), dtype=np.int64)
    np.add.at(table, (label_index, cluster_index), 1)
    return table


def clustering_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """ACC in [0, 1]: best one-to-one cluster->label map (Hungarian) over all images."""
    table = contingency_table(labels, clusters)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(labels: np.ndarray, clusters: np.ndarray,
        normalization: Literal["arithmetic", "max"] = "arithmetic") -> float:
    """Normalised mutual information in [0, 1].

    ``normalization="arithmetic"`` equals scikit-learn's ``normalized_mutual_info_score`` default;
    ``"max"`` divides by max(H(labels), H(clusters)). As in scikit-learn, two one-cluster labelings
    agree perfectly (1.0); one constant labeling against a varied one gives 0.
    """
    if normalization not in ("arithmetic", "max"):
        raise ValueError(f"normalization must be 'arithmetic' or 'max'; got {normalization!r}")
    table = contingency_table(labels, clusters).astype(np.float64)
    if table.shape[0] == 1 and table.shape[1] == 1:
        return 1.0
    total = table.sum()
    label_counts, cluster_counts = table.sum(axis=1), table.sum(axis=0)
    nonzero = table > 0
    joint = table[nonzero] / total
    outer = np.outer(label_counts, cluster_counts)[nonzero] / total**2
    mutual_information = float(np.sum(joint * np.log(joint / outer)))
    h_labels, h_clusters = _entropy(label_counts), _entropy(cluster_counts)
    denominator = (h_labels + h_clusters) / 2 if normalization == "arithmetic" else max(h_labels, h_clusters)
    if denominator <= 0:
        return 0.0
    return float(min(max(mutual_information / denominator, 0.0), 1.0))
