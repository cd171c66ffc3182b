"""WNet: the soft N-cut loss against an explicit weight matrix, its extremes, the two U-Nets' shapes,
train/resume/load at smoke, the foreground rule and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines import wnet
from core.contract import SEGMENT_LABELS, TrainRequest
from core.errors import UserError


def _brute_force_ncut(probs: np.ndarray, image: np.ndarray, radius: float, sigma_i: float, sigma_x: float) -> float:
    """W-Net Eq. 4 on one image from the (HW x HW) weight matrix of Shi & Malik's graph."""
    k, height, width = probs.shape
    brightness = image.mean(axis=0).ravel() * 255.0
    ys, xs = np.divmod(np.arange(height * width), width)
    distance2 = (ys[:, None] - ys[None, :]) ** 2 + (xs[:, None] - xs[None, :]) ** 2
    w = np.exp(-(brightness[:, None] - brightness[None, :]) ** 2 / sigma_i ** 2 - distance2 / sigma_x ** 2)
    w[np.sqrt(distance2) >= radius] = 0.0
    p = probs.reshape(k, -1)
    return k - sum((p[c] @ w @ p[c]) / (p[c] @ w @ np.ones(height * width)) for c in range(k))


@pytest.mark.parametrize("radius", [1, 2, 3, 5])
def test_soft_ncut_equals_the_explicit_weight_matrix(radius: int) -> None:
    generator = torch.Generator().manual_seed(radius)
    probs = torch.randn(2, 3, 5, 7, generator=generator, dtype=torch.float64).softmax(dim=1)
    images = torch.rand(2, 3, 5, 7, generator=generator, dtype=torch.float64) * 0.2   # within a few σ_I
    loss = float(wnet.soft_ncut_loss(probs, images, radius, sigma_intensity=10.0, sigma_position=4.0))
    expected = np.mean([_brute_force_ncut(probs[i].numpy(), images[i].numpy(), radius, 10.0, 4.0) for i in range(2)])
    assert loss == pytest.approx(expected, rel=1e-10)


def test_offsets_are_the_disc_of_radius_r() -> None:
    offsets = wnet.ncut_offsets(5)
    assert (0, 0) in offsets and (4, 0) in offsets and (3, 4) not in offsets   # |(3, 4)| = 5 is not < 5
    assert len(offsets) == sum(1 for y in range(-5, 6) for x in range(-5, 6) if math.hypot(y, x) < 5) == 69


def test_soft_ncut_extremes() -> None:
    images = torch.rand(1, 3, 6, 6, dtype=torch.float64)
    one_class = torch.zeros(1, 3, 6, 6, dtype=torch.float64)
    one_class[:, 0] = 1.0                 # everything in class 0: association = degree, the rest empty
    assert float(wnet.soft_ncut_loss(one_class, images)) == pytest.approx(2.0)
    # Two regions of very different brightness, each its own class: almost no weight is cut.
    split = torch.zeros(1, 2, 6, 6, dtype=torch.float64)
    split[:, 0, :, :3], split[:, 1, :, 3:] = 1.0, 1.0
    two_tone = torch.zeros(1, 3, 6, 6, dtype=torch.float64)
    two_tone[..., 3:] = 1.0
    assert float(wnet.soft_ncut_loss(split, two_tone)) == pytest.approx(0.0, abs=1e-12)
    across = torch.zeros(1, 2, 6, 6, dtype=torch.float64)
    across[:, 0, :3], across[:, 1, 3:] = 1.0, 1.0   # top / bottom: each class holds both tones
    assert float(wnet.soft_ncut_loss(across, two_tone)) > 0.3


def test_wnet_shapes() -> None:
    config = wnet.PRESETS["smoke"]
    model = wnet.WNetModel(config).eval()
    probs, reconstruction = model(torch.rand(3, 3, 16, 16))
    assert probs.shape == (3, config.classes, 16, 16) and reconstruction.shape == (3, 3, 16, 16)
    assert torch.allclose(probs.sum(dim=1), torch.ones(3, 16, 16), atol=1e-6)


def test_train_resume_load_round_trip(tiny_prepared, tmp_path) -> None:
    torch.set_num_threads(1)
    full = wnet.train(TrainRequest(data=tiny_prepared, out=tmp_path / "full", preset="smoke", seed=2))
    cut = wnet.train(TrainRequest(data=tiny_prepared, out=tmp_path / "cut", preset="smoke", seed=2,
                                  max_minutes=0.0))
    assert torch.load(cut, weights_only=True)["step"] == 1
    resumed = wnet.train(TrainRequest(data=tiny_prepared, out=tmp_path / "cut", preset="smoke", seed=2))
    state_full, state_resumed = torch.load(full, weights_only=True), torch.load(resumed, weights_only=True)
    assert state_resumed["complete"] and state_resumed["step"] == wnet.PRESETS["smoke"].steps
    for key, value in state_full["model"].items():
        assert torch.equal(value, state_resumed["model"][key]), key
    assert set(state_full["losses"]) == {"ncut", "reconstruction"}
    method = wnet.load(full)
    assert method.can("segment") and method.can(SEGMENT_LABELS) and not method.can("cluster")
    images = torch.rand(4, 3, 20, 20)
    masks, labels = method.segment(images), method.segment_labels(images)
    assert masks.shape == (4, 1, 20, 20) and float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0
    assert labels.shape == (4, 20, 20) and labels.dtype == torch.int64 and int(labels.max()) < 2
    # The mask is 1 - p(background class), the background the class holding most of the border ring.
    probs = method.class_probabilities(images)
    for i in range(4):
        ring = torch.ones(20, 20, dtype=torch.bool)
        ring[1:-1, 1:-1] = False
        background = int(torch.bincount(labels[i][ring], minlength=2).argmax())
        assert torch.allclose(masks[i, 0], 1.0 - probs[i, background])
    with pytest.raises(UserError, match=r"\(N, 3, H, W\)"):
        method.segment(torch.rand(4, 1, 20, 20))
    with pytest.raises(UserError, match="unknown preset"):
        wnet.train(TrainRequest(data=tiny_prepared, out=tmp_path / "x", preset="huge"))
    assert not (tmp_path / "x").exists()
    with pytest.raises(UserError, match="divisible"):
        wnet.WNetConfig(image_size=30, widths=(8, 16, 32))
