"""ACC against brute force over all one-to-one maps; NMI against scikit-learn."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from benchmark.metrics import clustering_accuracy, nmi


def brute_force_accuracy(labels, clusters):
    """Best injective map clusters -> labels (clusters beyond the labels map to nothing)."""
    label_values, cluster_values = sorted(set(labels)), sorted(set(clusters))
    slots = label_values + [None] * max(0, len(cluster_values) - len(label_values))
    best = 0
    for assignment in itertools.permutations(slots, len(cluster_values)):
        mapping = dict(zip(cluster_values, assignment, strict=True))
        best = max(best, sum(mapping[c] == y for y, c in zip(labels, clusters, strict=True)))
    return best / len(labels)


@pytest.mark.parametrize("n_labels, n_clusters", [(3, 3), (4, 4), (3, 5), (5, 3), (2, 6)])
def test_accuracy_matches_brute_force(n_labels, n_clusters):
    rng = np.random.default_rng(n_labels * 10 + n_clusters)
    for _ in range(5):
        labels = rng.integers(0, n_labels, size=30)
        clusters = np.where(rng.random(30) < 0.6, labels, rng.integers(0, n_clusters, size=30))
        clusters = np.minimum(clusters, n_clusters - 1)
        assert clustering_accuracy(labels, clusters) == pytest.approx(
            brute_force_accuracy(labels.tolist(), clusters.tolist()))


def test_accuracy_is_invariant_to_renaming():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert clustering_accuracy(labels, np.array([7, 7, 3, 3, 9, 9])) == 1.0
    assert clustering_accuracy(labels, np.array([5, 5, 5, 5, 5, 5])) == pytest.approx(2 / 6)
    assert clustering_accuracy(labels, np.arange(6)) == pytest.approx(3 / 6)


@pytest.mark.parametrize("normalization", ["arithmetic", "max"])
def test_nmi_matches_sklearn(normalization):
    rng = np.random.default_rng(1)
    for n_clusters in (2, 5, 12):
        labels = rng.integers(0, 6, size=200)
        clusters = np.where(rng.random(200) < 0.5, labels % n_clusters, rng.integers(0, n_clusters, size=200))
        expected = normalized_mutual_info_score(labels, clusters, average_method=normalization)
        assert nmi(labels, clusters, normalization) == pytest.approx(expected, abs=1e-12)


def test_nmi_edge_cases_match_sklearn():
    cases = [
        (np.zeros(5, int), np.zeros(5, int)),
        (np.zeros(5, int), np.arange(5)),
        (np.arange(6), np.arange(6)[::-1]),
        (np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0])),
    ]
    for labels, clusters in cases:
        for method in ("arithmetic", "max"):
            assert nmi(labels, clusters, method) == pytest.approx(
                normalized_mutual_info_score(labels, clusters, average_method=method), abs=1e-12)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="entries but 3"):
        clustering_accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        nmi([], [])
    with pytest.raises(ValueError, match="NaN"):
        nmi([0, 1], [0, np.nan])
    with pytest.raises(ValueError, match="normalization"):
        nmi([0, 1], [0, 1], normalization="geometric")
    with pytest.raises(ValueError, match="1-D"):
        clustering_accuracy(np.zeros((2, 2), int), np.zeros((2, 2), int))
