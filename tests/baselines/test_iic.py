"""IIC's objective against brute force and scikit-learn; IIC and IIC-seg train, resume and predict."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from baselines import iic, iic_seg
from baselines.iic_loss import iic_loss, iic_seg_loss, joint_from_pixel_pairs, mutual_information
from baselines.iic_seg import border_share
from core.contract import TrainRequest


def _brute_force_mi(p1: np.ndarray, p2: np.ndarray) -> float:
    n, k = p1.shape
    joint = np.zeros((k, k))
    for i in range(n):
        for a in range(k):
            for b in range(k):
                joint[a, b] += p1[i, a] * p2[i, b] / n
    joint = (joint + joint.T) / 2
    rows, cols = joint.sum(1), joint.sum(0)
    return sum(joint[a, b] * math.log(joint[a, b] / (rows[a] * cols[b])) for a in range(k) for b in range(k))


def test_iic_loss_is_minus_brute_force_mutual_information() -> None:
    generator = torch.Generator().manual_seed(0)
    p1 = torch.randn(7, 3, generator=generator, dtype=torch.float64).softmax(1)
    p2 = torch.randn(7, 3, generator=generator, dtype=torch.float64).softmax(1)
    assert float(-iic_loss(p1, p2)) == pytest.approx(_brute_force_mi(p1.numpy(), p2.numpy()), rel=1e-9)


def test_hard_assignments_match_sklearn_mutual_information() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    one_hot = torch.eye(4, dtype=torch.float64)
    # Symmetrising P is the contingency table of the pairs (a, b) together with (b, a).
    expected = mutual_info_score(np.concatenate([a, b]), np.concatenate([b, a]))
    assert float(-iic_loss(one_hot[a], one_hot[b])) == pytest.approx(expected, rel=1e-9)


def test_mutual_information_extremes() -> None:
    k = 5
    identical = torch.eye(k, dtype=torch.float64) / k      # perfectly paired, uniform marginals
    assert float(mutual_information(identical)) == pytest.approx(math.log(k), rel=1e-9)
    independent = torch.full((k, k), 1.0 / k**2, dtype=torch.float64)
    assert float(mutual_information(independent)) == pytest.approx(0.0, abs=1e-12)


def test_pixel_joint_matches_displacement_loops() -> None:
    generator = torch.Generator().manual_seed(2)
    a = torch.randn(2, 3, 5, 6, generator=generator, dtype=torch.float64).softmax(1)
    b = torch.randn(2, 3, 5, 6, generator=generator, dtype=torch.float64).softmax(1)
    radius = 1
    joint = torch.zeros(3, 3, dtype=torch.float64)
    for n in range(2):
        for y in range(5):
            for x in range(6):
                for dy in range(-radius, radius + 1):
                    for dx in range(-radius, radius + 1):
                        if 0 <= y + dy < 5 and 0 <= x + dx < 6:
                            joint += torch.outer(a[n, :, y, x], b[n, :, y + dy, x + dx])
    joint = (joint + joint.T) / 2
    joint /= joint.sum()
    assert torch.allclose(joint_from_pixel_pairs(a, b, radius), joint, atol=1e-12)
    assert float(iic_seg_loss(a, b, radius)) == pytest.approx(-float(mutual_information(joint)), rel=1e-9)


def test_iic_trains_resumes_and_clusters(tiny_prepared, tmp_path) -> None:
    full = iic.train(TrainRequest(data=tiny_prepared, out=tmp_path / "full", preset="smoke", seed=4))
    # Interrupted after one step by the time budget, then resumed: same weights as uninterrupted.
    cut = iic.train(TrainRequest(data=tiny_prepared, out=tmp_path / "cut", preset="smoke", seed=4,
                                 max_minutes=0.0))
    assert torch.load(cut, weights_only=True)["step"] == 1
    resumed = iic.train(TrainRequest(data=tiny_prepared, out=tmp_path / "cut", preset="smoke", seed=4))
    state_full = torch.load(full, weights_only=True)
    state_resumed = torch.load(resumed, weights_only=True)
    assert state_resumed["complete"] and state_resumed["step"] == iic.PRESETS["smoke"].steps
    for key, value in state_full["model"].items():
        assert torch.equal(value, state_resumed["model"][key]), key
    method = iic.load(full)
    images = torch.rand(5, 3, 40, 40)
    clusters = method.cluster(images)
    assert clusters.child.shape == (5,) and clusters.child.dtype == torch.int64
    assert int(clusters.child.min()) >= 0 and int(clusters.child.max()) < 4
    assert clusters.parent is None and method.can("cluster") and not method.can("segment")


def test_iic_seg_trains_and_segments(tiny_prepared, tmp_path) -> None:
    checkpoint = iic_seg.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=0))
    payload = torch.load(checkpoint, weights_only=True)
    assert payload["complete"] and payload["foreground_class"] in (0, 1)
    for rule in ("border", "border-per-image"):
        method = iic_seg.load(checkpoint, foreground_rule=rule)
        masks = method.segment(torch.rand(3, 3, 36, 36))
        assert masks.shape == (3, 1, 36, 36)
        assert float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0
    probs = method.class_probabilities(torch.rand(2, 3, 36, 36))
    assert probs.shape == (2, 2, 36, 36) and torch.allclose(probs.sum(1), torch.ones(2, 36, 36), atol=1e-5)


def test_border_rule_picks_the_class_absent_from_the_border() -> None:
    probs = torch.zeros(1, 2, 8, 8)
    probs[:, 0] = 1.0
    probs[:, 0, 2:6, 2:6] = 0.0          # class 1 occupies the centre only
    probs[:, 1] = 1.0 - probs[:, 0]
    shares = border_share(probs, border=1)
    assert shares[0].tolist() == [1.0, 0.0]
    assert int(shares.argmin(dim=1)) == 1
