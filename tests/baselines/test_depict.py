"""DEPICT: the target distribution P and the objective against hand/numpy computations; the
autoencoder's shapes; flat-colour clusters recovered; train / resume / load round trip; bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from baselines import depict
from baselines.object_tensors import load_object_tensors
from benchmark.metrics.clustering import clustering_accuracy
from core.contract import TrainRequest
from core.errors import UserError
from data_prep.prepared import load_prepared

Q = np.array([[0.7, 0.2, 0.1],
              [0.6, 0.3, 0.1],
              [0.1, 0.8, 0.1],
              [0.2, 0.2, 0.6]])


def test_target_distribution_by_hand() -> None:
    # paper: p_ik ∝ q_ik / sqrt(f_k), f = column sums of Q = (1.6, 1.5, 0.9)
    row = np.array([0.7 / math.sqrt(1.6), 0.2 / math.sqrt(1.5), 0.1 / math.sqrt(0.9)])
    p = depict.target_distribution(torch.tensor(Q), "paper").numpy()
    assert p[0] == pytest.approx(row / row.sum(), rel=1e-12)
    # the same rule, for every row, in plain numpy
    unnormalised = Q / np.sqrt(Q.sum(0))
    assert np.allclose(p, unnormalised / unnormalised.sum(1, keepdims=True), atol=1e-15)
    # the authors' code: p_ik ∝ q_ik² / f_k
    code = depict.target_distribution(torch.tensor(Q), "code").numpy()
    squared = Q ** 2 / Q.sum(0)
    assert np.allclose(code, squared / squared.sum(1, keepdims=True), atol=1e-15)
    # the prior term balances clusters: the rare cluster 2 gains mass relative to Q
    assert p[:, 2].sum() > Q[:, 2].sum() * (p[:, 0].sum() / Q[:, 0].sum())
    with pytest.raises(UserError):
        depict.target_distribution(torch.tensor(Q), "dec")


def test_objective_by_hand() -> None:
    p = depict.target_distribution(torch.tensor(Q), "paper").numpy()
    kl_pq = np.sum(p * np.log(p / Q)) / len(Q)
    f = p.mean(0)
    kl_fu = np.sum(f * np.log(f * 3))
    assert float(depict.depict_objective(torch.tensor(p), torch.tensor(Q))) == pytest.approx(kl_pq + kl_fu, rel=1e-12)
    # The stationarity condition of the objective in P is p_ik ∝ q_ik / f_k(P); the paper's P satisfies
    # it with f_k(P) replaced by sqrt(Σ_i q_ik) (its approximation), so the exact minimiser computed
    # by fixed-point iteration lies close to it and scores no worse.
    exact = Q.copy()
    for _ in range(200):
        exact = Q / exact.mean(0)
        exact /= exact.sum(1, keepdims=True)
    exact_value = float(depict.depict_objective(torch.tensor(exact), torch.tensor(Q)))
    assert exact_value <= float(depict.depict_objective(torch.tensor(p), torch.tensor(Q))) + 1e-12
    assert np.abs(exact - p).max() < 0.05


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_autoencoder_shapes(size: int) -> None:
    config = dataclasses.replace(depict.PRESETS["smoke"], image_size=size)
    net = depict.DEPICTNet(config, num_clusters=5)
    x = torch.rand(2, 3, size, size) * 2 - 1
    h1, h2, z = net.encode(x, noisy=False)
    x_hat, h1_hat, h2_hat = net.decode(z)
    assert x_hat.shape == x.shape and h1_hat.shape == h1.shape and h2_hat.shape == h2.shape
    assert z.shape == (2, 5) and torch.allclose(net.assignments(z).sum(1), torch.ones(2))


def test_depict_recovers_flat_colour_clusters(flat_colour_prepared, tmp_path, monkeypatch) -> None:
    config = dataclasses.replace(depict.PRESETS["smoke"], lr=1e-3, batch_size=10, pretrain_epochs=15,
                                 init_epochs=10, cluster_epochs=5, kmeans_init=4)
    monkeypatch.setitem(depict.PRESETS, "known", config)
    checkpoint = depict.train(TrainRequest(data=flat_colour_prepared, out=tmp_path, preset="known", seed=0))
    prepared = load_prepared(flat_colour_prepared)
    images = load_object_tensors(prepared, prepared.size).images.float().div(255.0)
    clusters = depict.load(checkpoint).cluster(images)
    rows = prepared.rows("fg")
    assert clustering_accuracy(rows["class_id"].to_numpy(), clusters.child.numpy()) >= 0.9
    assert clusters.parent is not None and int(clusters.parent.max()) <= 1


def test_depict_trains_resumes_and_loads(tiny_prepared, tmp_path) -> None:
    full = depict.train(TrainRequest(data=tiny_prepared, out=tmp_path / "full", preset="smoke", seed=4))
    cut = depict.train(TrainRequest(data=tiny_prepared, out=tmp_path / "cut", preset="smoke", seed=4,
                                    max_minutes=0.0))
    assert torch.load(cut, weights_only=True)["step"] == 1
    with pytest.raises(UserError, match="not finished"):
        depict.load(cut)
    resumed = depict.train(TrainRequest(data=tiny_prepared, out=tmp_path / "cut", preset="smoke", seed=4))
    state_full, state_resumed = (torch.load(p, weights_only=True) for p in (full, resumed))
    assert state_resumed["complete"] and state_resumed["step"] == depict.PRESETS["smoke"].total_epochs
    for key, value in state_full["model"].items():
        assert torch.equal(value, state_resumed["model"][key]), key
    assert torch.equal(state_full["target"], state_resumed["target"])
    method = depict.load(full)
    clusters = method.cluster(torch.rand(5, 3, 40, 40))
    assert clusters.child.shape == (5,) and clusters.child.dtype == torch.int64
    assert int(clusters.child.max()) < 4 and int(clusters.parent.max()) < 2
    assert method.can("cluster") and not method.can("generate")


def test_depict_bad_input_is_one_line(tiny_prepared, tmp_path, monkeypatch) -> None:
    with pytest.raises(UserError) as error:
        depict.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="huge"))
    assert "\n" not in str(error.value) and "smoke" in str(error.value)
    monkeypatch.setitem(depict.PRESETS, "bad-target", dataclasses.replace(depict.PRESETS["smoke"], target="dec"))
    with pytest.raises(UserError, match="target"):
        depict.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="bad-target"))
    assert not any(tmp_path.iterdir())          # nothing half-written
