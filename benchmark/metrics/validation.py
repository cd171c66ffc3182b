"""Input checks shared by the metric modules: every metric refuses bad input with a ValueError that
names the argument and the problem, instead of returning NaN or a silently wrong number."""

from __future__ import annotations

import numpy as np


def as_matrix(name: str, values: object, min_rows: int = 1) -> np.ndarray:
    """A finite float64 matrix (N, D) with at least ``min_rows`` rows and at least one column."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples, dims); got shape {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {array.shape})")
    if array.shape[0] < min_rows:
        raise ValueError(f"{name} has {array.shape[0]} rows; at least {min_rows} needed")
    require_finite(name, array)
    return array


def as_labels(name: str, values: object, length: int | None = None) -> np.ndarray:
    """A non-empty 1-D integer label vector (of ``length`` entries when given)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels; got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if array.dtype.kind == "f":
        require_finite(name, array)
        if not np.all(array == np.round(array)):
            raise ValueError(f"{name} must hold integer labels; got non-integer floats")
        array = array.astype(np.int64)
    elif array.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integer labels; got dtype {array.dtype}")
    if length is not None and array.shape[0] != length:
        raise ValueError(f"{name} has {array.shape[0]} entries but {length} were expected")
    return array.astype(np.int64)


def as_probabilities(name: str, values: object, atol: float = 1e-3) -> np.ndarray:
    """Rows of class probabilities (N, K): finite, non-negative, each row summing to 1 (±atol).

    Rows are renormalised exactly after the check (float32 softmax outputs sum to 1 only to ~1e-7).
    """
    probs = as_matrix(name, values)
    if np.any(probs < 0):
        raise ValueError(f"{name} holds negative probabilities (min {probs.min():.3g})")
    sums = probs.sum(axis=1)
    worst = float(np.max(np.abs(sums - 1.0)))
    if worst > atol:
        raise ValueError(f"{name} rows must sum to 1 (class probabilities, e.g. a softmax); the worst row "
                         f"sums to {sums[np.argmax(np.abs(sums - 1.0))]:.6g}")
    return probs / sums[:, None]


def require_finite(name: str, array: np.ndarray) -> None:
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
