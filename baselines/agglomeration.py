"""Agglomerative clustering on a K_s-nearest-neighbour graph: JULE's merging machinery, and the one way
the clustering baselines without a parent head (JULE, DEPICT) turn child clusters into parent clusters.

Yang, Parikh & Batra (CVPR 2016, §3-4), which take the cluster affinity from graph degree linkage
(Zhang et al., ECCV 2012):

- sample graph: W[i, j] = exp(-‖x_i - x_j‖² / σ²) when x_j is one of the K_s nearest neighbours of x_i,
  else 0, with σ² = a · the mean squared distance of every sample to its K_s neighbours (a = 1 in the
  authors' code);
- cluster affinity: A(C_a, C_b) = 1/|C_a|² · 1ᵀ W_{C_a,C_b} W_{C_b,C_a} 1 + 1/|C_b|² · 1ᵀ W_{C_b,C_a} W_{C_a,C_b} 1
  (the first term counts the two-step paths C_a → C_b → C_a, the second C_b → C_a → C_b);
- which pair merges: for every cluster C_i, with its affinities to the other clusters sorted downwards
  A_1 ≥ A_2 ≥ …, the score A_1 + λ/(K_c - 1) · Σ_{k=2..K_c} (A_1 - A_k) (affinity to its nearest
  cluster, plus how much nearer that cluster is than the next K_c - 1); the cluster with the highest
  score merges with its nearest;
- initial clusters: every sample joined to its nearest neighbour (the connected components of the
  1-nearest-neighbour graph), as the authors' ``agg_clustering.init``.

The affinity is kept symmetric (the paper's A); the authors' code scores each cluster against the
clusters of lower index only (an artefact of storing the upper triangle), which we do not copy.
When no two clusters are linked by the graph at all (every affinity 0) the two clusters with the
closest mean features merge, as the authors' code does for clusters with no links.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from core.errors import UserError


def knn_graph(features: np.ndarray, k: int, a: float = 1.0, chunk: int = 2048) -> tuple[csr_matrix, np.ndarray]:
    """(W, neighbours): the sparse (n, n) K_s-NN affinity matrix and each sample's k nearest
    neighbours (n, k), nearest first, the sample itself excluded. Distances are computed ``chunk``
    rows at a time so paper-size sets (about 20k images) fit in memory."""
    x = np.asarray(features, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        raise UserError(f"agglomerative clustering needs at least 2 samples, got {n}")
    k = min(k, n - 1)
    norms = (x * x).sum(1)
    neighbours = np.empty((n, k), dtype=np.int64)
    near = np.empty((n, k))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        squared = np.maximum(norms[start:stop, None] + norms[None, :] - 2.0 * x[start:stop] @ x.T, 0.0)
        squared[np.arange(stop - start), np.arange(start, stop)] = np.inf
        part = np.argpartition(squared, k - 1, axis=1)[:, :k] if k < n - 1 else np.argsort(squared, axis=1)[:, :k]
        distance = np.take_along_axis(squared, part, axis=1)
        order = np.lexsort((part, distance), axis=1)          # nearest first, ties by index
        neighbours[start:stop] = np.take_along_axis(part, order, axis=1)
        near[start:stop] = np.take_along_axis(distance, order, axis=1)
    sigma_squared = max(a * float(near.mean()), 1e-12)
    rows = np.repeat(np.arange(n), k)
    weights = csr_matrix((np.exp(-near.ravel() / sigma_squared), (rows, neighbours.ravel())), shape=(n, n))
    return weights, neighbours


def initial_clusters(neighbours: np.ndarray) -> np.ndarray:
    """Labels 0..c-1 of the connected components of the graph joining each sample to its nearest
    neighbour (``neighbours[:, 0]``)."""
    n = neighbours.shape[0]
    graph = coo_matrix((np.ones(n), (np.arange(n), neighbours[:, 0])), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="weak")
    return labels.astype(np.int64)


def _membership(labels: np.ndarray, num_clusters: int) -> csr_matrix:
    """Sparse (n, c) one-hot matrix of the labels."""
    n = labels.shape[0]
    return csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, num_clusters))


def path_counts(weights: np.ndarray, labels: np.ndarray, num_clusters: int) -> np.ndarray:
    """P[b, a] = 1ᵀ W_{C_a,C_b} W_{C_b,C_a} 1 = Σ_{x ∈ C_b} (Σ_{y ∈ C_a} W[y, x]) (Σ_{y ∈ C_a} W[x, y])."""
    weights = csr_matrix(weights)
    member = _membership(labels, num_clusters)
    into = weights.T @ member          # into[x, a] = Σ_{y ∈ C_a} W[y, x]
    out_of = weights @ member          # out_of[x, a] = Σ_{y ∈ C_a} W[x, y]
    return np.asarray((member.T @ csr_matrix(into).multiply(out_of)).todense())


def cluster_affinity(weights: np.ndarray, labels: np.ndarray, num_clusters: int | None = None) -> np.ndarray:
    """The symmetric (c, c) matrix A(C_a, C_b) of the module docstring; the diagonal is 0."""
    num_clusters = int(labels.max()) + 1 if num_clusters is None else num_clusters
    counts = np.bincount(labels, minlength=num_clusters).astype(np.float64)
    paths = path_counts(weights, labels, num_clusters)
    inverse_square = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0) ** 2, 0.0)
    affinity = paths.T * inverse_square[:, None] + paths * inverse_square[None, :]
    np.fill_diagonal(affinity, 0.0)
    return affinity


def merge_scores(affinity: np.ndarray, active: np.ndarray, k_c: int, lam: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(score, nearest) per cluster: A_1 + λ/(K_c-1) Σ_{k=2..K_c} (A_1 - A_k) over the active clusters,
    and the index of each cluster's nearest cluster. Inactive clusters score -inf."""
    # affinities are >= 0, so -1 sorts inactive clusters and the diagonal after every active one
    masked = np.where(active[None, :] & active[:, None], affinity, -1.0)
    np.fill_diagonal(masked, -1.0)
    depth = max(min(k_c, int(active.sum()) - 1), 1)
    # only the K_c largest per row matter: partition first (c² work per merge, not c² log c)
    part = np.argpartition(-masked, depth - 1, axis=1)[:, :depth] if depth < masked.shape[1] else \
        np.tile(np.arange(masked.shape[1]), (masked.shape[0], 1))
    within = np.take_along_axis(masked, part, axis=1)
    order = np.take_along_axis(part, np.lexsort((part, -within), axis=1), axis=1)   # largest first, ties by index
    top = np.take_along_axis(masked, order, axis=1)
    score = top[:, 0].copy()
    if depth > 1:
        score += lam / (k_c - 1) * (top[:, :1] - top[:, 1:]).sum(axis=1)
    score[~active] = -np.inf
    return score, order[:, 0]


def agglomerate(features: np.ndarray, labels: np.ndarray, target: int, *, merges: int | None = None,
                k_s: int = 20, k_c: int = 5, a: float = 1.0, lam: float = 1.0,
                weights: np.ndarray | None = None) -> np.ndarray:
    """Merge clusters of ``labels`` (0..c-1) on the K_s-NN graph of ``features`` until ``target``
    clusters remain, or after ``merges`` merges if that comes first. Returns labels renumbered
    0..c'-1 in order of first appearance of the merged clusters' old ids."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    if target < 1:
        raise UserError(f"agglomerative clustering: target must be >= 1, got {target}")
    weights = knn_graph(features, k_s, a)[0] if weights is None else csr_matrix(weights)
    num = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=num).astype(np.float64)
    active = counts > 0
    todo = int(active.sum()) - target
    if merges is not None:
        todo = min(todo, merges)
    if todo <= 0:
        return relabel(labels)
    affinity = cluster_affinity(weights, labels, num)
    x = np.asarray(features, dtype=np.float64)
    sums = np.asarray(_membership(labels, num).T @ x)
    for _ in range(todo):
        score, nearest = merge_scores(affinity, active, k_c, lam)
        best = int(np.argmax(score))
        if affinity[best, nearest[best]] > 0.0 and np.isfinite(score[best]):
            keep, gone = sorted((best, int(nearest[best])))
        else:
            keep, gone = _closest_means(sums, counts, active)
        labels[labels == gone] = keep
        counts[keep] += counts[gone]
        counts[gone] = 0.0
        sums[keep] += sums[gone]
        sums[gone] = 0.0
        active[gone] = False
        affinity[gone, :] = 0.0
        affinity[:, gone] = 0.0
        row = _affinity_of(weights, labels, keep, num, counts)
        affinity[keep, :] = row
        affinity[:, keep] = row
    return relabel(labels)


def _affinity_of(weights: csr_matrix, labels: np.ndarray, cluster: int, num: int, counts: np.ndarray) -> np.ndarray:
    """Row ``cluster`` of the affinity matrix, recomputed after a merge."""
    inside = np.flatnonzero(labels == cluster)
    rows = weights[inside]                    # W[y, ·] for y ∈ C
    columns = weights[:, inside]              # W[·, y] for y ∈ C
    into_c = np.asarray(rows.sum(0)).ravel()      # Σ_{y ∈ C} W[y, x] for every x
    out_c = np.asarray(columns.sum(1)).ravel()    # Σ_{y ∈ C} W[x, y]
    paths_to_c = np.bincount(labels, weights=into_c * out_c, minlength=num)   # P[b, c]
    member = _membership(labels, num)
    into_b = csr_matrix(columns.T @ member)   # for x ∈ C: Σ_{y ∈ C_b} W[y, x]
    out_b = rows @ member                     # for x ∈ C: Σ_{y ∈ C_b} W[x, y]
    paths_from_c = np.asarray(into_b.multiply(out_b).sum(0)).ravel()    # P[c, b]
    inverse_square = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0) ** 2, 0.0)
    row = paths_to_c * inverse_square[cluster] + paths_from_c * inverse_square
    row[cluster] = 0.0
    row[counts == 0] = 0.0
    return row


def _closest_means(sums: np.ndarray, counts: np.ndarray, active: np.ndarray) -> tuple[int, int]:
    ids = np.flatnonzero(active)
    means = sums[ids] / counts[ids, None]
    distance = ((means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distance, np.inf)
    i, j = np.unravel_index(int(np.argmin(distance)), distance.shape)
    return tuple(sorted((int(ids[i]), int(ids[j]))))  # type: ignore[return-value]


def relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0..c-1 keeping the order of the old ids."""
    _, new = np.unique(labels, return_inverse=True)
    return new.astype(np.int64)


def parents_of_clusters(features: np.ndarray, child: np.ndarray, num_children: int, num_parents: int, *,
                        k_s: int = 20, k_c: int = 5, a: float = 1.0) -> np.ndarray:
    """The child->parent lookup (num_children,) of a clustering method without a parent level: its child
    clusters (``child`` per sample, 0..num_children-1) merged by the agglomeration above on the
    samples' ``features`` until ``num_parents`` groups remain. A child id that no sample carries
    (an empty cluster) gets parent 0."""
    child = np.asarray(child, dtype=np.int64)
    present = np.unique(child)
    merged = agglomerate(features, relabel(child), min(num_parents, len(present)), k_s=k_s, k_c=k_c, a=a)
    lookup = np.zeros(num_children, dtype=np.int64)
    for old in present:
        lookup[old] = merged[np.flatnonzero(child == old)[0]]
    return lookup
