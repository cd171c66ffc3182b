"""The nuisance augmentation (paper-silent switch): exact on transforms with a known answer, and
differentiable back to the generator's outputs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from onegan.config import LossConfig, OneGANConfig
from onegan.networks.generators import compose
from onegan.nuisance_augmentation import DRAWS_PER_SAMPLE, nuisance_augment, rotate_hue

N, S = 3, 16


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    foreground = torch.rand(N, 3, S, S, generator=g) * 2 - 1
    mask = torch.rand(N, 1, S, S, generator=g)
    background = torch.rand(N, 3, S, S, generator=g) * 2 - 1
    return foreground, mask, background


def _draws(rotation: float = 0.5, scale: float = 0.5, mirror: float = 0.9, shift: float = 0.5,
           brightness: float = 0.5) -> torch.Tensor:
    """Uniform draws that decode to the named transform (0.5: none; mirror >= 0.5: not mirrored)."""
    row = torch.tensor([rotation, scale, mirror, shift, shift, brightness])
    return row.expand(N, DRAWS_PER_SAMPLE).clone()


KEEP_BACKGROUND = LossConfig(augment_swap_background=False)


def test_neutral_draws_give_the_composed_image():
    fg, mask, bg = _inputs()
    out = nuisance_augment(fg, mask, bg, _draws(), KEEP_BACKGROUND)
    torch.testing.assert_close(out, compose(bg, fg, mask), atol=1e-5, rtol=0)


def test_swapped_background_is_the_next_samples():
    fg, mask, bg = _inputs()
    out = nuisance_augment(fg, mask, bg, _draws(), LossConfig())
    torch.testing.assert_close(out, compose(bg.roll(1, 0), fg, mask), atol=1e-5, rtol=0)
    assert not torch.allclose(out, compose(bg, fg, mask), atol=1e-3)
    # A full mask hides the background: swapping it changes nothing.
    full = torch.ones_like(mask)
    torch.testing.assert_close(nuisance_augment(fg, full, bg, _draws(), LossConfig()), fg, atol=1e-5, rtol=0)


def test_mirror_and_half_turn_are_the_pixel_flips():
    fg, mask, bg = _inputs()
    image = compose(bg, fg, mask)
    mirrored = nuisance_augment(fg, mask, bg, _draws(mirror=0.1), KEEP_BACKGROUND)
    torch.testing.assert_close(mirrored, image.flip(-1), atol=1e-5, rtol=0)
    half_turn = nuisance_augment(fg, mask, bg, _draws(rotation=1.0), KEEP_BACKGROUND)  # +180°
    torch.testing.assert_close(half_turn, image.flip(-1).flip(-2), atol=1e-5, rtol=0)
    quarter = LossConfig(augment_swap_background=False, augment_rotation_degrees=90.0)
    turned = nuisance_augment(fg, mask, bg, _draws(rotation=1.0), quarter)  # +90°: a pixel permutation
    assert torch.allclose(turned, image.rot90(1, (-2, -1)), atol=1e-5) or \
        torch.allclose(turned, image.rot90(-1, (-2, -1)), atol=1e-5)


def test_brightness_scales_around_black_and_clamps():
    fg, mask, bg = _inputs()
    image = compose(bg, fg, mask)
    bright = nuisance_augment(fg, mask, bg, _draws(brightness=1.0), KEEP_BACKGROUND)  # factor 1 + 0.2
    torch.testing.assert_close(bright, ((image + 1) * 1.2 - 1).clamp(-1, 1), atol=1e-5, rtol=0)


def test_gradients_reach_foreground_mask_and_background():
    fg, mask, bg = (t.requires_grad_() for t in _inputs())
    draws = torch.rand(N, DRAWS_PER_SAMPLE, generator=torch.Generator().manual_seed(1))
    nuisance_augment(fg, mask, bg, draws, LossConfig()).square().sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in (fg, mask, bg))


def test_bad_draws_and_options_are_refused():
    fg, mask, bg = _inputs()
    with pytest.raises(ValueError, match="uniform draws"):
        nuisance_augment(fg, mask, bg, torch.rand(N, 2), LossConfig())
    from core.errors import UserError
    with pytest.raises(UserError, match="augment_scale"):
        LossConfig(augment_scale=(1.2, 0.8))


def test_switch_is_on_in_the_cpu_demo_only_and_round_trips():
    for preset in ("paper", "smoke"):  # the paper's Eq. 12 as written; smoke learns nothing anyway
        assert not OneGANConfig.preset(preset, 12, 4).loss.nuisance_augmentation
    tiny = OneGANConfig.preset("tiny", 12, 4).loss
    assert tiny.nuisance_augmentation and tiny.augment_parent_hue
    config = OneGANConfig.preset("tiny", 12, 4)
    on = dataclasses.replace(config, loss=dataclasses.replace(config.loss, nuisance_augmentation=True,
                                                             augment_scale=(0.9, 1.1)))
    assert OneGANConfig.from_dict(on.to_dict()) == on


def test_hue_rotation_keeps_greys_and_saturation_and_a_third_turn_permutes_channels():
    g = torch.Generator().manual_seed(2)
    image = (torch.rand(4, 3, 5, 5, generator=g) * 2 - 1) * 0.4  # small: no clamping
    torch.testing.assert_close(rotate_hue(image, torch.zeros(4)), image, atol=1e-6, rtol=0)
    # A third of a turn about the grey axis maps R -> G -> B -> R: the channel permutation.
    torch.testing.assert_close(rotate_hue(image, torch.full((4,), 1 / 3)), image[:, [2, 0, 1]], atol=1e-6, rtol=0)
    turned = rotate_hue(image, torch.rand(4, generator=g))
    grey = torch.full((1, 3, 1, 1), 3 ** -0.5)
    along = lambda x: (x * grey).sum(1)  # noqa: E731  component along the grey axis
    torch.testing.assert_close(along(turned), along(image), atol=1e-5, rtol=0)
    torch.testing.assert_close(turned.norm(dim=1), image.norm(dim=1), atol=1e-5, rtol=0)
    greys = torch.full((2, 3, 2, 2), 0.3)
    torch.testing.assert_close(rotate_hue(greys, torch.tensor([0.2, 0.7])), greys, atol=1e-6, rtol=0)
