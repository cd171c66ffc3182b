"""Diversity within a condition: does a conditional generator use its noise z?

A generator that ignores z draws the same image for every z of one code, which FID/IS barely see
when the codes differ (every code still gets one plausible image). The diversity score measures it
directly, in the evaluator's feature space:

    spread(F, y) = mean over conditions c with >= 2 samples of  mean_{i < j, y_i = y_j = c} ||f_i - f_j||_2
    diversity    = spread(fake features, child codes) / spread(real features, class labels)

1.0: samples sharing a code are as varied as real images sharing a class; 0.0: every code gives one
image whatever z is. The real side uses the class labels (not a method's clusters), so the
denominator is one fixed property of the dataset, the same for every method.
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics.validation import as_labels, as_matrix


def _mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over the n(n-1)/2 unordered pairs (Gram-matrix form, float64)."""
    x = features
    squared = np.sum(x * x, axis=1)
    d2 = squared[:, None] + squared[None, :] - 2.0 * (x @ x.T)
    upper = np.triu_indices(x.shape[0], k=1)
    return float(np.sqrt(np.clip(d2[upper], 0.0, None)).mean())


def within_condition_spread(features: np.ndarray, conditions: np.ndarray) -> float:
    """Mean over conditions (with at least 2 samples) of the mean pairwise distance of their features."""
    features = as_matrix("features", features, min_rows=2)
    conditions = as_labels("conditions", conditions, length=features.shape[0])
    spreads = [_mean_pairwise_distance(features[conditions == c])
               for c, n in zip(*np.unique(conditions, return_counts=True), strict=True) if n >= 2]
    if not spreads:
        raise ValueError("within_condition_spread needs a condition with at least 2 samples")
    return float(np.mean(spreads))


def diversity_ratio(fake_features: np.ndarray, fake_conditions: np.ndarray, real_features: np.ndarray,
                    real_labels: np.ndarray) -> float:
    """spread(fakes sharing a code) / spread(real images sharing a class); see the module docstring."""
    real = within_condition_spread(real_features, real_labels)
    if real == 0:
        raise ValueError("real images of every class are identical: the diversity ratio is undefined")
    return within_condition_spread(fake_features, fake_conditions) / real
