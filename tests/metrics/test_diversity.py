"""The within-condition diversity score against cases with a known answer and a brute-force loop."""

import itertools

import numpy as np
import pytest

from benchmark.metrics.diversity import diversity_ratio, within_condition_spread


def _brute_force_spread(features, conditions):
    per_condition = []
    for c in sorted(set(conditions.tolist())):
        rows = features[conditions == c]
        if len(rows) < 2:
            continue
        pairs = [np.linalg.norm(a - b) for a, b in itertools.combinations(rows, 2)]
        per_condition.append(np.mean(pairs))
    return float(np.mean(per_condition))


def test_regular_simplex_has_known_spread():
    # The standard basis vectors e_1..e_k are pairwise sqrt(2) apart.
    features = np.vstack([np.eye(5), 3 * np.eye(5)])
    conditions = np.array([0] * 5 + [1] * 5)
    assert within_condition_spread(features, conditions) == pytest.approx((np.sqrt(2) + 3 * np.sqrt(2)) / 2)


def test_collapsed_generator_scores_zero_and_real_against_itself_scores_one():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 8))
    labels = np.repeat(np.arange(6), 10)
    collapsed = np.repeat(rng.normal(size=(6, 8)), 10, axis=0)   # one image per code whatever z is
    assert diversity_ratio(collapsed, labels, real, labels) == pytest.approx(0.0, abs=1e-6)
    assert diversity_ratio(real, labels, real, labels) == pytest.approx(1.0)
    # Distances scale linearly: fakes twice as spread as the reals score 2.
    assert diversity_ratio(2 * real, labels, real, labels) == pytest.approx(2.0)


def test_matches_brute_force_with_unequal_groups_and_singletons():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(23, 4)) * 10 + 100   # large offset: the Gram form must stay accurate
    conditions = rng.integers(0, 5, size=23)
    conditions[0] = 9                                  # a singleton condition is left out
    assert within_condition_spread(features, conditions) == pytest.approx(_brute_force_spread(features, conditions),
                                                                          rel=1e-9)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2 samples"):
        within_condition_spread(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="entries"):
        within_condition_spread(np.zeros((3, 2)), np.array([0, 0]))
    with pytest.raises(ValueError, match="undefined"):
        diversity_ratio(np.ones((4, 2)), np.zeros(4), np.ones((4, 2)), np.zeros(4))
