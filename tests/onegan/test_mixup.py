import dataclasses

import torch

from onegan.config import OneGANConfig
from onegan.mixup import MixupWeights, generation_mixup_weights, inference_mixup_weights, mix, sample_mixup_weights
from onegan.model import OneGANModel


def test_mix_arithmetic_eq9():
    a, b = torch.full((3, 2, 4, 4), 2.0), torch.full((3, 2, 4, 4), -4.0)
    beta = torch.tensor([0.0, 0.25, 1.0])
    out = mix(a, b, beta)
    assert torch.allclose(out[:, 0, 0, 0], torch.tensor([2.0, 2.0 * 0.75 - 4.0 * 0.25, -4.0]))
    v, v_hat = torch.randn(3, 5), torch.randn(3, 5)
    assert torch.allclose(mix(v, v_hat, beta), v * (1 - beta[:, None]) + v_hat * beta[:, None])


def test_beta_ranges_per_instance():
    config = OneGANConfig.preset("tiny", 12, 4).model
    g = torch.Generator().manual_seed(0)
    w = sample_mixup_weights(20000, config, generator=g)
    for beta in (w.beta1, w.beta2):
        assert beta.min() >= 0 and beta.max() <= 1 and beta.min() < 0.01 and beta.max() > 0.99
        assert abs(beta.mean().item() - 0.5) < 0.01
    for beta in (w.beta3, w.beta4):
        assert beta.min() >= 0.5 and beta.max() <= 1 and beta.min() < 0.51 and beta.max() > 0.99
        assert abs(beta.mean().item() - 0.75) < 0.01
    # Independent per instance and per module.
    assert not torch.equal(w.beta1, w.beta2) and w.beta1.unique().numel() > 19000
    assert all((b == 0).all() for b in generation_mixup_weights(4))


def test_ablation_betas():
    base = OneGANConfig.preset("tiny", 12, 4)
    w = sample_mixup_weights(8, base.with_ablation("no-mixup12").model)
    assert (w.beta1 == 1).all() and (w.beta2 == 1).all() and (w.beta3 >= 0.5).all()
    w = sample_mixup_weights(8, base.with_ablation("no-mixup34").model)
    assert (w.beta3 == 1).all() and (w.beta4 == 1).all()
    w = sample_mixup_weights(8, base.with_ablation("no-bypass").model)
    assert (w.beta3 == 0).all() and (w.beta4 == 0).all()
    w = inference_mixup_weights(2, base.model)
    assert torch.allclose(w.beta1, torch.tensor(0.5)) and torch.allclose(w.beta3, torch.tensor(0.75))


def _ones(n):
    return torch.ones(n)


def test_reconstruction_wiring_follows_the_betas():
    """β3 = β4 = 1: the generators' pre-images A_fg, A_bg do not matter (only the bypasses B);
    β3 = β4 = 0: the bypass convolutions do not matter."""
    torch.manual_seed(0)
    config = OneGANConfig.preset("smoke", 4, 2).model
    model = OneGANModel(config).eval()
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    bypass_only = MixupWeights(torch.zeros(2), torch.zeros(2), _ones(2), _ones(2))
    pre_only = MixupWeights(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2))
    with torch.no_grad():
        before = model.reconstruct(image, bypass_only, sample=False)
        before_pre = model.reconstruct(image, pre_only, sample=False)
        for p in list(model.foreground_generator.to_preimage.parameters()) + list(
                model.background_generator.to_preimage.parameters()):
            p.add_(torch.randn_like(p))
        after = model.reconstruct(image, bypass_only, sample=False)
        assert torch.allclose(before.image, after.image, atol=1e-6)
        changed = model.reconstruct(image, pre_only, sample=False)
        assert not torch.allclose(before_pre.image, changed.image, atol=1e-4)
        for p in list(model.shape_encoder.bypass.parameters()) + list(model.background_encoder.bypass.parameters()):
            p.add_(torch.randn_like(p))
        assert torch.allclose(model.reconstruct(image, pre_only, sample=False).image, changed.image, atol=1e-6)


def test_generation_ignores_encoders():
    torch.manual_seed(0)
    config = dataclasses.replace(OneGANConfig.preset("smoke", 4, 2).model)
    model = OneGANModel(config).eval()
    args = (torch.tensor([1, 2]), torch.tensor([0, 1]), torch.randn(2, config.z_dim))
    with torch.no_grad():
        first = model.generate(*args).image
        for p in model.shape_encoder.parameters():
            p.add_(1.0)
        assert torch.equal(first, model.generate(*args).image)
