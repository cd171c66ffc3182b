"""ReDO trains, recomposes images as Eq. 2 says, and segments with the interface's shapes."""

from __future__ import annotations

import pytest
import torch

from baselines import redo
from core.contract import TrainRequest
from core.errors import UserError


def test_redraw_follows_equation_2() -> None:
    torch.manual_seed(0)
    model = redo.ReDO(redo.PRESETS["smoke"]).eval()
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    region = torch.tensor([0, 1, 1, 0])
    z = torch.randn(4, model.config.z_dim)
    with torch.no_grad():
        redrawn, masks = model.redraw(images, region, z)
        drawn = [generator(z, masks) for generator in model.generators]  # every G_k on every image
    assert masks.shape == (4, 2, 32, 32)
    assert torch.allclose(masks.sum(1), torch.ones(4, 32, 32), atol=1e-5)
    for i, k in enumerate(region.tolist()):
        m = masks[i, k]
        expected = m * drawn[k][i] + (1 - m) * images[i]
        assert torch.allclose(redrawn[i], expected, atol=1e-6)


def test_redo_trains_and_segments(tiny_prepared, tmp_path) -> None:
    checkpoint = redo.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=1))
    payload = torch.load(checkpoint, weights_only=True)
    assert payload["complete"] and payload["step"] == redo.PRESETS["smoke"].steps
    assert all(torch.isfinite(torch.tensor(v)) for v in payload["losses"].values())
    method = redo.load(checkpoint)
    masks = method.segment(torch.rand(3, 3, 48, 48))
    assert masks.shape == (3, 1, 48, 48)
    assert float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0
    assert method.can("segment") and not method.can("cluster")
    # A finished run is returned as is when trained again with resume.
    again = redo.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=1))
    assert torch.load(again, weights_only=True)["step"] == payload["step"]


def test_resume_refuses_a_different_run_and_unknown_presets(tiny_prepared, tmp_path) -> None:
    redo.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=1, max_minutes=0.0))
    with pytest.raises(UserError, match="different seed"):
        redo.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=2))
    with pytest.raises(UserError, match="unknown preset 'huge'"):
        redo.train(TrainRequest(data=tiny_prepared, out=tmp_path / "x", preset="huge"))
    with pytest.raises(UserError, match="checkpoint not found"):
        redo.load(tmp_path / "nowhere")
