"""Inception Score (Salimans et al., 2016) on class-probability arrays.

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed on ``splits`` disjoint chunks and reported as (mean, std) over chunks, as torch-fidelity
and the original code do. Samples are shuffled with a fixed seed first (torch-fidelity's 2020)
because generated images often come ordered by class code, which would give each chunk only a
few classes and a biased low score.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from benchmark.metrics.validation import as_probabilities

DEFAULT_SHUFFLE_SEED = 2020


def kl_rows(probs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """KL(p_i || q_i) per row with the convention 0 log 0 = 0 (``reference`` broadcasts)."""
    return np.sum(xlogy(probs, probs) - xlogy(probs, np.broadcast_to(reference, probs.shape)), axis=1)


def probs_to_log_score(probs: np.ndarray) -> float:
    """log IS of one chunk: mean over rows of KL(p(y|x) || p(y)), p(y) the chunk's mean row."""
    return float(kl_rows(probs, probs.mean(axis=0, keepdims=True)).mean())


def inception_score(probs: np.ndarray, splits: int = 10,
                    shuffle_seed: int | None = DEFAULT_SHUFFLE_SEED) -> tuple[float, float]:
    """(mean, std) of the Inception Score over ``splits`` chunks of ``probs`` (N, K).

    ``probs`` are class probabilities p(y|x) (rows sum to 1). ``shuffle_seed=None`` keeps the order.
    """
    probs = as_probabilities("probs", probs)
    if not isinstance(splits, int | np.integer) or splits < 1:
        raise ValueError(f"splits must be a positive integer; got {splits!r}")
    count = probs.shape[0]
    if count < splits:
        raise ValueError(f"{count} samples cannot be cut into {splits} splits")
    if shuffle_seed is not None:
        probs = probs[np.random.RandomState(shuffle_seed).permutation(count)]
    scores = [np.exp(probs_to_log_score(probs[i * count // splits:(i + 1) * count // splits]))
              for i in range(splits)]
    return float(np.mean(scores)), float(np.std(scores))
