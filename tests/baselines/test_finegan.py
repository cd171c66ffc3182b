"""FineGAN + our encoders: patch geometry and bbox masking, parent map, outputs, checkpoints, resume."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from baselines import finegan
from baselines.finegan import (
    BackgroundDiscriminator,
    FineGANConfig,
    PatchGeometry,
    background_patch_weights,
    boxes_to_region,
    masked_bce,
)
from baselines.gan_training import CheckpointError, read_losses
from baselines.object_tensors import bbox_in_crop, load_object_tensors, take_batch
from core.contract import TrainRequest
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic

SMOKE = FineGANConfig.preset("smoke")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("fg") / "synthetic", classes=4, parents=2, images=40,
                           size=32, seed=0)


def _short(iterations: int, encoder_iterations: int) -> FineGANConfig:
    return dataclasses.replace(SMOKE, iterations=iterations, log_every=1, checkpoint_every=100,
                               encoders=dataclasses.replace(SMOKE.encoders, iterations=encoder_iterations))


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("fg_run")
    path = finegan.train(TrainRequest(data=tiny_data, out=out, preset="smoke", seed=0, device="cpu"))
    return path


# ---------------------------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("layers", [((4, 2, 1), (3, 1, 1)), ((4, 2, 0), (4, 2, 0), (4, 1, 0), (4, 1, 0))])
def test_patch_geometry_matches_the_receptive_field_by_gradients(layers):
    """Field bounds from the closed form equal the support of d(unit)/d(input) of the real D_b trunk."""
    size = 40
    config = dataclasses.replace(SMOKE, background_layers=layers, ndf=2)
    d = BackgroundDiscriminator(config).eval()
    geometry = d.geometry
    assert geometry == PatchGeometry(layers)
    x = torch.zeros(1, 3, size, size, requires_grad=True)
    out = d(x).real_fake
    assert out.shape[-1] == geometry.output_size(size)
    starts, ends = geometry.field_bounds(size)
    for i in {0, out.shape[-1] // 2, out.shape[-1] - 1}:
        grad, = torch.autograd.grad(out[0, 0, i, i], x, retain_graph=True)
        support = torch.nonzero(grad.abs().sum(dim=(0, 1)) > 0)
        assert support[:, 0].min() == starts[i] and support[:, 0].max() == ends[i] - 1
        assert support[:, 1].min() == starts[i] and support[:, 1].max() == ends[i] - 1


def test_finegan_reference_geometry_is_34_pixels_every_4():
    """FineGAN's code: recp_field = 34, patch_stride = 4, n_out = 24 at 126 px."""
    geometry = PatchGeometry(FineGANConfig().background_layers)
    assert (geometry.field, geometry.stride, geometry.offset, geometry.output_size(126)) == (34, 4, 0, 24)


def _brute_force_weights(region: np.ndarray, geometry: PatchGeometry, rule: str) -> np.ndarray:
    size = region.shape[-1]
    n = geometry.output_size(size)
    out = np.ones((n, n), dtype=np.float32)
    for i, j in itertools.product(range(n), range(n)):
        y0 = max(geometry.offset + i * geometry.stride, 0)
        x0 = max(geometry.offset + j * geometry.stride, 0)
        window = region[y0:geometry.offset + i * geometry.stride + geometry.field,
                        x0:geometry.offset + j * geometry.stride + geometry.field]
        is_object = window.any() if rule == "overlap" else (window.size > 0 and window.all())
        out[i, j] = 0.0 if is_object else 1.0
    return out


@pytest.mark.parametrize("rule", ["overlap", "inside"])
def test_background_patch_weights_equal_brute_force(rule):
    torch.manual_seed(0)
    geometry = PatchGeometry(((4, 2, 1), (3, 1, 1)))
    boxes = torch.tensor([[5.0, 7.0, 20.0, 27.0], [0.0, 0.0, 32.0, 32.0], [10.0, 3.0, 12.0, 30.0],
                          [0.0, 0.0, 0.0, 0.0]])
    regions = torch.cat([boxes_to_region(boxes, 32), (torch.rand(2, 1, 32, 32) > 0.97).float()])
    weights = background_patch_weights(regions, geometry, rule)
    for k in range(regions.shape[0]):
        expected = _brute_force_weights(regions[k, 0].bool().numpy(), geometry, rule)
        np.testing.assert_array_equal(weights[k, 0].numpy(), expected)
    # The box covering the whole image leaves no real background patch; the empty box masks none.
    assert weights[1].sum() == 0 and weights[3].min() == 1


def test_bbox_overlap_rule_matches_finegan_index_formula():
    """FineGAN masks units a1..a2-1 with a1 = ceil((x1 - rf)/stride), a2 = floor(x2/stride) + 1 on its
    126 px, rf 34, stride 4 grid: every field reaching [x1, x2] *including its end points*. Our overlap
    rule counts pixels (box pixels x1..x2-1), so it equals FineGAN's on the box grown by one pixel."""
    geometry = PatchGeometry(FineGANConfig().background_layers)
    rng = np.random.default_rng(1)
    for _ in range(30):
        x1, y1 = (int(v) for v in rng.integers(1, 80, size=2))
        x2, y2 = x1 + int(rng.integers(5, 45)), y1 + int(rng.integers(5, 45))
        box = torch.tensor([[x1 - 1.0, y1 - 1.0, x2 + 1.0, y2 + 1.0]])
        weights = background_patch_weights(boxes_to_region(box, 126), geometry, "overlap")[0, 0]
        a1, a2 = max(0, int(np.ceil((x1 - 34) / 4))), min(23, int(np.floor(23 - ((126 - 34) - x2) / 4))) + 1
        b1, b2 = max(0, int(np.ceil((y1 - 34) / 4))), min(23, int(np.floor(23 - ((126 - 34) - y2) / 4))) + 1
        expected = torch.ones(24, 24)
        expected[b1:b2, a1:a2] = 0
        assert torch.equal(weights, expected), (x1, y1, x2, y2)


def test_masked_units_do_not_enter_the_real_background_loss():
    logits = torch.randn(2, 1, 5, 5)
    weights = (torch.rand(2, 1, 5, 5) > 0.5).float()
    changed = logits + 100.0 * (1 - weights) * torch.randn_like(logits)
    assert torch.allclose(masked_bce(logits, 1.0, weights), masked_bce(changed, 1.0, weights))
    assert masked_bce(logits, 1.0, torch.zeros_like(weights)) == 0


# ------------------------------------------------------------------------------------------------- data


def test_bbox_maps_from_source_pixels_into_crop_pixels():
    # Crop (40, 20, 60x60) stored at 30 px: scale 0.5.
    assert bbox_in_crop((50, 30, 20, 40), (40, 20, 60, 60), 30) == (5.0, 5.0, 15.0, 25.0)
    # Parts outside the crop are clipped.
    assert bbox_in_crop((10, 10, 100, 100), (40, 20, 60, 60), 30) == (0.0, 0.0, 30.0, 30.0)


def test_flipped_batches_mirror_boxes_with_the_image(tiny_data):
    data = load_object_tensors(load_prepared(tiny_data), 32)  # integer boxes: no rasterisation ties
    index = torch.arange(6)
    flip = torch.tensor([True, False, True, False, True, True])
    images, masks, _, boxes = take_batch(data, index, flip)
    plain, plain_masks, _, plain_boxes = take_batch(data, index, None)
    assert torch.equal(images[flip], plain[flip].flip(-1))
    assert torch.equal(boxes_to_region(boxes, 32)[flip], boxes_to_region(plain_boxes, 32)[flip].flip(-1))
    # On the synthetic data the bbox is the mask's tight box: the mask lies inside the box.
    region = boxes_to_region(boxes, 32)
    assert ((masks > 0) & (region == 0)).float().mean() < 0.02


# ------------------------------------------------------------------------------------------- the method


def test_outputs_have_the_interface_shapes_and_ranges(trained):
    method = finegan.load(trained, device="cpu")
    assert method.tasks == {"generate", "segment", "cluster"}
    assert (method.num_classes, method.num_parents) == (4, 2)
    child = torch.tensor([0, 1, 2, 3, 3])
    images = method.generate(child)
    assert images.shape == (5, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    out = method.render(child)
    assert torch.allclose(out.parent_image, out.background * (1 - out.parent_mask) + out.parent_fg * out.parent_mask)
    real = torch.rand(3, 3, 40, 40)
    masks = method.segment(real)
    assert masks.shape == (3, 1, 40, 40) and masks.min() >= 0 and masks.max() <= 1
    clusters = method.cluster(real)
    assert clusters.child.dtype == torch.int64 and clusters.child.shape == (3,)
    assert int(clusters.child.max()) < 4 and int(clusters.parent.max()) < 2
    with pytest.raises(Exception, match="child codes"):
        method.generate(torch.tensor([4]))


def test_checkpoint_round_trip_is_deterministic(trained):
    z = torch.randn(4, SMOKE.z_dim, generator=torch.Generator().manual_seed(3))
    child = torch.tensor([0, 1, 2, 3])
    a = finegan.load(trained, device="cpu")
    b = finegan.load(trained, device="cpu")
    assert torch.equal(a.generate(child, z=z), b.generate(child, z=z))
    real = torch.rand(2, 3, 32, 32)
    assert torch.equal(a.segment(real), b.segment(real))


def test_resume_continues_the_iteration_count(tiny_data, tmp_path):
    finegan.train(TrainRequest(data=tiny_data, out=tmp_path, preset="smoke", device="cpu"), config=_short(3, 2))
    path = finegan.train(TrainRequest(data=tiny_data, out=tmp_path, preset="smoke", device="cpu"),
                         config=_short(5, 3))
    state = torch.load(path, weights_only=True)
    assert (state["gan_iteration"], state["encoder_iteration"]) == (5, 3)
    log = read_losses(tmp_path)
    assert [r["iteration"] for r in log if r["phase"] == "finegan"] == [1, 2, 3, 4, 5]
    assert [r["iteration"] for r in log if r["phase"] == "finegan-encoders"] == [1, 2, 3]
    # Another architecture cannot resume this checkpoint.
    with pytest.raises(CheckpointError, match="another configuration"):
        finegan.train(TrainRequest(data=tiny_data, out=tmp_path, preset="smoke", device="cpu"),
                      config=dataclasses.replace(_short(6, 3), ngf=3))


def test_max_minutes_stops_early_with_a_checkpoint(tiny_data, tmp_path):
    path = finegan.train(TrainRequest(data=tiny_data, out=tmp_path, preset="smoke", device="cpu",
                                      max_minutes=0.0), config=_short(50, 50))
    state = torch.load(path, weights_only=True)
    assert 1 <= state["gan_iteration"] < 50 and 1 <= state["encoder_iteration"] < 50
    assert finegan.load(path, device="cpu").gan_iteration == state["gan_iteration"]


def test_mask_source_gives_at_least_the_bbox_background_units(tiny_data, tmp_path):
    """With the same seed (same batch), masking by the GT mask (inside the bbox) keeps every
    background unit the bbox rule keeps, and more around a non-rectangular object."""
    fractions = {}
    for source in ("bbox", "mask"):
        config = dataclasses.replace(_short(1, 1), background_patch_source=source)
        finegan.train(TrainRequest(data=tiny_data, out=tmp_path / source, preset="smoke", device="cpu"),
                      config=config)
        record, = [r for r in read_losses(tmp_path / source) if r["phase"] == "finegan"]
        fractions[source] = record["real_background_patches"]
    assert fractions["mask"] > fractions["bbox"] > 0
