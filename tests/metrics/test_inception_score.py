"""Inception Score and its conditional split (BCIS x WCIS) against brute-force KL sums."""

import math

import numpy as np
import pytest

from benchmark.metrics import bcis, inception_score, wcis


def brute_force_is(probs):
    """exp(mean_x sum_y p(y|x) log(p(y|x) / p(y))), one loop per term."""
    n, k = len(probs), len(probs[0])
    marginal = [sum(probs[i][y] for i in range(n)) / n for y in range(k)]
    total = 0.0
    for i in range(n):
        for y in range(k):
            if probs[i][y] > 0:
                total += probs[i][y] * math.log(probs[i][y] / marginal[y])
    return math.exp(total / n)


def random_probs(rng, n, k, sharpness=3.0):
    logits = rng.normal(size=(n, k)) * sharpness
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_matches_brute_force_on_one_split():
    probs = random_probs(np.random.default_rng(0), 7, 4)
    mean, std = inception_score(probs, splits=1)
    assert mean == pytest.approx(brute_force_is(probs.tolist()), rel=1e-12)
    assert std == 0.0


def test_splits_are_brute_force_per_chunk_without_shuffle():
    probs = random_probs(np.random.default_rng(1), 10, 3)
    expected = [brute_force_is(probs[:5].tolist()), brute_force_is(probs[5:].tolist())]
    mean, std = inception_score(probs, splits=2, shuffle_seed=None)
    assert mean == pytest.approx(np.mean(expected), rel=1e-12)
    assert std == pytest.approx(np.std(expected), rel=1e-10)


def test_limits_uniform_and_one_hot():
    k = 5
    assert inception_score(np.full((20, k), 1 / k), splits=2)[0] == pytest.approx(1.0)
    one_hot = np.eye(k)[np.arange(40) % k]  # every class equally often, perfectly confident
    mean, _ = inception_score(one_hot, splits=1)
    assert mean == pytest.approx(k)
    # One-hot on a single class: confident but not diverse.
    assert inception_score(np.eye(k)[np.zeros(10, int)], splits=1)[0] == pytest.approx(1.0)


def test_bcis_times_wcis_is_the_inception_score():
    rng = np.random.default_rng(2)
    probs = random_probs(rng, 60, 6)
    conditions = rng.integers(0, 4, size=60)  # unequal class sizes on purpose
    assert bcis(probs, conditions) * wcis(probs, conditions) == pytest.approx(
        inception_score(probs, splits=1)[0], rel=1e-10)


def test_conditional_limits():
    k = 4
    conditions = np.arange(40) % k
    one_hot = np.eye(k)[conditions]  # each condition yields exactly its own class
    assert bcis(one_hot, conditions) == pytest.approx(k)
    assert wcis(one_hot, conditions) == pytest.approx(1.0)
    # The condition carries no information: everything is within-class.
    assert bcis(one_hot, np.zeros(40, int)) == pytest.approx(1.0)
    assert wcis(one_hot, np.zeros(40, int)) == pytest.approx(k)


def test_bcis_brute_force():
    rng = np.random.default_rng(3)
    probs, conditions = random_probs(rng, 12, 3), np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 5, 5, 5])
    classes = np.unique(conditions)
    per_class = [probs[conditions == c].mean(axis=0) for c in classes]
    weights = [np.mean(conditions == c) for c in classes]
    marginal = sum(w * p for w, p in zip(weights, per_class, strict=True))
    log_bcis = sum(w * np.sum(p * np.log(p / marginal)) for w, p in zip(weights, per_class, strict=True))
    assert bcis(probs, conditions) == pytest.approx(np.exp(log_bcis), rel=1e-12)


@pytest.mark.parametrize("probs, message", [
    (np.array([[0.5, 0.6]]), "sum to 1"),
    (np.array([[1.5, -0.5]]), "negative"),
    (np.array([[np.nan, 1.0]]), "NaN"),
    (np.zeros((0, 3)), "at least 1"),
    (np.ones(3) / 3, "2-D"),
])
def test_bad_probs_raise(probs, message):
    with pytest.raises(ValueError, match=message):
        inception_score(probs, splits=1)


def test_bad_splits_and_conditions_raise():
    probs = np.full((4, 2), 0.5)
    with pytest.raises(ValueError, match="cannot be cut"):
        inception_score(probs, splits=5)
    with pytest.raises(ValueError, match="positive integer"):
        inception_score(probs, splits=0)
    with pytest.raises(ValueError, match="entries but 4"):
        bcis(probs, [0, 1, 0])
    with pytest.raises(ValueError, match="integer labels"):
        wcis(probs, [0.5, 1, 0, 1])
