"""StackGANv2 + our encoders: colour consistency, z-cells, outputs, checkpoints, resume."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from baselines import stackgan
from baselines.gan_training import CheckpointError, read_losses
from baselines.stackgan import (
    LatentCells,
    StackGANConfig,
    StackGANGenerator,
    color_consistency_loss,
    color_statistics,
)
from core.contract import TaskNotSupported, TrainRequest
from core.errors import UserError
from data_prep.synthetic import write_synthetic

SMOKE = StackGANConfig.preset("smoke")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("sg") / "synthetic", classes=4, parents=2, images=40,
                           size=32, seed=0)


def _short(iterations: int, encoder_iterations: int) -> StackGANConfig:
    return dataclasses.replace(SMOKE, iterations=iterations, log_every=1, checkpoint_every=100,
                               encoders=dataclasses.replace(SMOKE.encoders, iterations=encoder_iterations))


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    return stackgan.train(TrainRequest(data=tiny_data, out=tmp_path_factory.mktemp("sg_run"), preset="smoke",
                                       device="cpu"))


def test_color_statistics_equal_numpy():
    images = torch.rand(3, 3, 5, 7)
    mean, cov = color_statistics(images)
    for k in range(3):
        pixels = images[k].reshape(3, -1).double().numpy()
        np.testing.assert_allclose(mean[k].numpy(), pixels.mean(1), rtol=1e-5)
        np.testing.assert_allclose(cov[k].numpy(), np.cov(pixels, bias=True), rtol=1e-4, atol=1e-6)


def test_color_consistency_is_zero_only_for_matching_statistics():
    small = torch.rand(2, 3, 8, 8)
    large = torch.nn.functional.interpolate(small, scale_factor=2, mode="nearest")  # same pixel statistics
    assert color_consistency_loss(small, large, 1.0, 5.0) < 1e-10
    shifted = large + 0.1
    expected = 1.0 * 0.1 ** 2  # means move by 0.1, covariances do not
    assert torch.isclose(color_consistency_loss(small, shifted, 1.0, 5.0), torch.tensor(expected), rtol=1e-4)


def test_stage_sizes_and_generator_outputs():
    assert StackGANConfig().stage_sizes == (32, 64, 128)
    assert StackGANConfig.preset("tiny").stage_sizes == (16, 32)
    images = StackGANGenerator(SMOKE)(torch.randn(2, SMOKE.z_dim))
    assert [tuple(x.shape) for x in images] == [(2, 3, 16, 16), (2, 3, 32, 32)]
    with pytest.raises(UserError):
        StackGANConfig(image_size=16, num_stages=4)  # first stage would be 2 px


def test_latent_cells_nest_children_inside_parents_and_sampling_hits_the_cell():
    cells = LatentCells(z_dim=6, num_classes=6, num_parents=3, seed=0)
    z = torch.randn(4000, 6, generator=torch.Generator().manual_seed(0))
    child, parent = cells.child(z), cells.parent(z)
    assert torch.equal(child // 2, parent)  # fixed map: 2 consecutive children per parent
    assert len(torch.unique(child)) == 6
    wanted = torch.tensor([0, 5, 3, 3, 1])
    sampled = cells.sample_in_cells(wanted, 6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(cells.child(sampled), wanted)


def test_outputs_have_the_interface_shapes_and_ranges(trained):
    method = stackgan.load(trained, device="cpu")
    assert method.tasks == {"generate", "cluster"}
    images = method.generate(torch.tensor([0, 1, 2, 3]))
    assert images.shape == (4, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    assert 0.0 <= method.last_acceptance_rate <= 1.0
    real = torch.rand(3, 3, 40, 40)
    clusters = method.cluster(real)
    assert clusters.child.dtype == torch.int64 and clusters.child.shape == (3,)
    assert int(clusters.child.max()) < 4 and int(clusters.parent.max()) < 2
    with pytest.raises(TaskNotSupported):
        method.segment(real)


def test_generated_images_are_the_encoders_cluster_when_accepted(trained):
    """Every accepted sample is one the style encoder assigns to the requested child."""
    method = stackgan.load(trained, device="cpu")
    method.config = dataclasses.replace(method.config, generate_rounds=10)
    child = torch.tensor([0, 1, 2, 3] * 3)
    images = method.generate(child)
    assigned = method.cluster(images).child
    agree = (assigned == child).float().mean().item()
    assert agree >= method.last_acceptance_rate - 1e-6


def test_checkpoint_round_trip_and_resume(tiny_data, trained, tmp_path):
    z = torch.randn(3, SMOKE.z_dim, generator=torch.Generator().manual_seed(0))
    a, b = stackgan.load(trained, device="cpu"), stackgan.load(trained, device="cpu")
    assert torch.equal(a.generate(torch.tensor([0, 1, 2]), z=z), b.generate(torch.tensor([0, 1, 2]), z=z))

    stackgan.train(TrainRequest(data=tiny_data, out=tmp_path, preset="smoke", device="cpu"), config=_short(2, 1))
    path = stackgan.train(TrainRequest(data=tiny_data, out=tmp_path, preset="smoke", device="cpu"),
                          config=_short(4, 2))
    state = torch.load(path, weights_only=True)
    assert (state["gan_iteration"], state["encoder_iteration"]) == (4, 2)
    assert [r["iteration"] for r in read_losses(tmp_path) if r["phase"] == "stackgan"] == [1, 2, 3, 4]
    with pytest.raises(CheckpointError, match="another configuration"):
        stackgan.train(TrainRequest(data=tiny_data, out=tmp_path, preset="smoke", device="cpu"),
                       config=dataclasses.replace(_short(5, 2), z_dim=4))
