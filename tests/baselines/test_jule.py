"""JULE: the graph, cluster affinity, merge rule and triplet loss against brute force; clusters of flat
colours recovered; train / resume / load round trip; bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from baselines import jule
from baselines.agglomeration import (
    agglomerate,
    cluster_affinity,
    initial_clusters,
    knn_graph,
    merge_scores,
    parents_of_clusters,
)
from baselines.object_tensors import load_object_tensors
from benchmark.metrics.clustering import clustering_accuracy
from core.contract import TrainRequest
from core.errors import UserError
from data_prep.prepared import load_prepared


def _brute_force_graph(x: np.ndarray, k: int, a: float) -> np.ndarray:
    n = len(x)
    distance = np.array([[float(np.sum((x[i] - x[j]) ** 2)) for j in range(n)] for i in range(n)])
    neighbours = [sorted((j for j in range(n) if j != i), key=lambda j: (distance[i, j], j))[:k] for i in range(n)]
    sigma_squared = a * np.mean([distance[i, j] for i in range(n) for j in neighbours[i]])
    weights = np.zeros((n, n))
    for i in range(n):
        for j in neighbours[i]:
            weights[i, j] = np.exp(-distance[i, j] / sigma_squared)
    return weights


def _brute_force_affinity(weights: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A(C_a, C_b) = 1/|C_a|² 1ᵀ W_ab W_ba 1 + 1/|C_b|² 1ᵀ W_ba W_ab 1, summed path by path."""
    c = labels.max() + 1
    members = [np.flatnonzero(labels == i) for i in range(c)]
    affinity = np.zeros((c, c))
    for a in range(c):
        for b in range(c):
            if a == b:
                continue
            via_b = sum(weights[i, j] * weights[j, m] for i in members[a] for j in members[b] for m in members[a])
            via_a = sum(weights[j, i] * weights[i, m] for j in members[b] for i in members[a] for m in members[b])
            affinity[a, b] = via_b / len(members[a]) ** 2 + via_a / len(members[b]) ** 2
    return affinity


def test_graph_and_cluster_affinity_match_brute_force() -> None:
    x = np.random.default_rng(0).normal(size=(9, 3))
    weights, neighbours = knn_graph(x, k=3, a=1.5)
    assert np.allclose(weights.toarray(), _brute_force_graph(x, 3, 1.5), atol=1e-12)
    assert neighbours.shape == (9, 3)
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3])
    expected = _brute_force_affinity(weights.toarray(), labels)
    assert np.abs(expected).max() > 0.1         # the tiny set has linked clusters, so this is no 0 = 0
    assert np.allclose(cluster_affinity(weights, labels), expected, atol=1e-12)


def test_merge_rule_and_incremental_affinity() -> None:
    affinity = np.array([[0.0, 0.9, 0.8, 0.1],
                         [0.9, 0.0, 0.2, 0.3],
                         [0.8, 0.2, 0.0, 0.05],
                         [0.1, 0.3, 0.05, 0.0]])
    score, nearest = merge_scores(affinity, np.ones(4, dtype=bool), k_c=3, lam=1.0)
    # cluster 1: 0.9 + ((0.9 - 0.3) + (0.9 - 0.2)) / 2 = 1.55 beats cluster 0's 0.9 + (0.1 + 0.8) / 2 = 1.35
    assert score == pytest.approx([1.35, 1.55, 0.8 + (0.6 + 0.75) / 2, 0.3 + (0.2 + 0.25) / 2])
    assert list(nearest) == [1, 0, 0, 1]
    # After each merge the kept affinity rows must equal a from-scratch computation: compare one
    # merge done by ``agglomerate`` with the brute-force choice on the same graph.
    x = np.random.default_rng(1).normal(size=(12, 2))
    weights, _ = knn_graph(x, k=4)
    labels = np.arange(12) // 2
    merged = agglomerate(x, labels, target=1, merges=1, weights=weights)
    full = _brute_force_affinity(weights.toarray(), labels)
    score, nearest = merge_scores(full, np.ones(6, dtype=bool), k_c=5)
    pair = {int(np.argmax(score)), int(nearest[np.argmax(score)])}
    expected = labels.copy()
    expected[np.isin(labels, list(pair))] = min(pair)
    assert np.array_equal(merged, np.unique(expected, return_inverse=True)[1])
    # several merges in a row agree with recomputing the affinity from scratch after each one
    step_by_step = labels.copy()
    for _ in range(3):
        step_by_step = agglomerate(x, step_by_step, target=1, merges=1, weights=weights)
    assert np.array_equal(agglomerate(x, labels, target=1, merges=3, weights=weights), step_by_step)


def test_initial_clusters_join_nearest_neighbours() -> None:
    x = np.array([[0.0], [0.1], [0.25], [5.0], [5.2], [9.0], [9.05]])
    _, neighbours = knn_graph(x, k=2)
    assert initial_clusters(neighbours).tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_parents_merge_children_by_the_same_graph() -> None:
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [20.0, 0.0], [21.0, 0.0]])
    child = np.repeat(np.arange(4), 25)
    x = centres[child] + 0.1 * rng.normal(size=(100, 2))
    lookup = parents_of_clusters(x, child, num_children=5, num_parents=2)
    assert lookup[0] == lookup[1] != lookup[2] == lookup[3] and lookup[4] == 0


def test_triplet_loss_matches_loops() -> None:
    generator = torch.Generator().manual_seed(3)
    embeddings = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    loss = jule.triplet_loss(embeddings, labels, negatives=20, margin=0.5, positive_weight=1.0)
    def squared(i: int, j: int) -> float:
        return float((embeddings[i] - embeddings[j]).pow(2).sum())

    terms = [max(0.0, squared(a, p) - squared(a, n) + 0.5)
             for a in range(6) for p in range(a + 1, 6) if labels[a] == labels[p]
             for n in range(6) if labels[n] != labels[a]]
    assert float(loss) == pytest.approx(np.mean(terms), rel=1e-12)
    assert jule.triplet_loss(embeddings, torch.arange(6), 5, 0.2, 1.0) is None      # no positive pair
    assert jule.triplet_loss(embeddings, torch.zeros(6, dtype=torch.long), 5, 0.2, 1.0) is None   # no negative


def _accuracy(method, root) -> tuple[float, float]:
    prepared = load_prepared(root)
    images = load_object_tensors(prepared, prepared.size).images.float().div(255.0)
    clusters = method.cluster(images)
    rows = prepared.rows("fg")
    return (clustering_accuracy(rows["class_id"].to_numpy(), clusters.child.numpy()),
            clustering_accuracy(rows["parent_id"].to_numpy(), clusters.parent.numpy()))


def test_jule_recovers_flat_colour_clusters(flat_colour_prepared, tmp_path, monkeypatch) -> None:
    config = dataclasses.replace(jule.PRESETS["smoke"], periods=3, epochs_per_period=2, k_s=5)
    monkeypatch.setitem(jule.PRESETS, "known", config)
    checkpoint = jule.train(TrainRequest(data=flat_colour_prepared, out=tmp_path, preset="known", seed=0))
    child_acc, parent_acc = _accuracy(jule.load(checkpoint), flat_colour_prepared)
    # Parents are not asserted: the triplet loss spreads the four clusters evenly in the embedding, so
    # which two colours pair up there is not the colour-space answer (the parent merge itself is
    # checked on fixed features in test_parents_merge_children_by_the_same_graph).
    assert child_acc >= 0.9 and parent_acc >= 0.5


def test_jule_trains_resumes_and_loads(tiny_prepared, tmp_path) -> None:
    full = jule.train(TrainRequest(data=tiny_prepared, out=tmp_path / "full", preset="smoke", seed=4))
    cut = jule.train(TrainRequest(data=tiny_prepared, out=tmp_path / "cut", preset="smoke", seed=4, max_minutes=0.0))
    assert torch.load(cut, weights_only=True)["step"] == 1
    with pytest.raises(UserError, match="not finished"):
        jule.load(cut)
    resumed = jule.train(TrainRequest(data=tiny_prepared, out=tmp_path / "cut", preset="smoke", seed=4))
    state_full, state_resumed = (torch.load(p, weights_only=True) for p in (full, resumed))
    assert state_resumed["complete"] and state_resumed["step"] == jule.PRESETS["smoke"].periods
    assert torch.equal(state_full["labels"], state_resumed["labels"])
    for key, value in state_full["model"].items():
        assert torch.equal(value, state_resumed["model"][key]), key
    method = jule.load(full)
    clusters = method.cluster(torch.rand(5, 3, 40, 40))
    assert clusters.child.shape == (5,) and clusters.child.dtype == torch.int64
    assert int(clusters.child.max()) < 4 and int(clusters.parent.max()) < 2
    assert method.can("cluster") and not method.can("segment")


def test_jule_bad_input_is_one_line(tiny_prepared, tmp_path, monkeypatch) -> None:
    with pytest.raises(UserError) as error:
        jule.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="huge"))
    assert "\n" not in str(error.value) and "smoke" in str(error.value)
    monkeypatch.setitem(jule.PRESETS, "one-period", dataclasses.replace(jule.PRESETS["smoke"], periods=1))
    with pytest.raises(UserError, match="periods"):
        jule.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="one-period"))
    assert not any(tmp_path.iterdir())          # nothing half-written
    with pytest.raises(UserError):
        jule.train(TrainRequest(data=tmp_path / "absent", out=tmp_path / "out", preset="smoke"))
