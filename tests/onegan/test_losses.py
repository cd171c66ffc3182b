import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from onegan import losses


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_discriminator_loss_by_hand():
    real_bg, fake_bg = torch.tensor([1.5]), torch.tensor([-0.5])
    real_bg_b, real_obj_b = torch.tensor([0.3]), torch.tensor([2.0])
    real_c, fake_c = torch.tensor([0.7]), torch.tensor([0.2])
    # The paper's log-likelihoods (maximised by D); the functions return their negatives.
    l_dbga = log_sigmoid(1.5) + log_sigmoid(0.5)          # log D(x) + log(1 - D(G)), 1 - σ(a) = σ(-a)
    l_dbgb = log_sigmoid(0.3) + log_sigmoid(-2.0)
    l_dca = log_sigmoid(0.7) + log_sigmoid(-0.2)
    a = losses.discriminator_background_real_fake_loss(real_bg, fake_bg)
    b = losses.discriminator_background_object_loss(real_bg_b, real_obj_b)
    c = losses.discriminator_child_real_fake_loss(real_c, fake_c)
    assert a.item() == pytest.approx(-l_dbga, rel=1e-5)
    assert b.item() == pytest.approx(-l_dbgb, rel=1e-5)
    assert c.item() == pytest.approx(-l_dca, rel=1e-5)
    assert losses.discriminator_loss(a, b, c).item() == pytest.approx(-(10 * l_dbga + l_dbgb + l_dca), rel=1e-5)


def test_generator_loss_by_hand_and_sign():
    fake_a, fake_b, fake_c = torch.tensor([-1.0, 1.0]), torch.tensor([0.5, 0.5]), torch.tensor([2.0, -2.0])
    expected = -(10 * (log_sigmoid(-1) + log_sigmoid(1)) / 2 + log_sigmoid(0.5)
                 + (log_sigmoid(2) + log_sigmoid(-2)) / 2)
    got = losses.generator_loss(losses.generator_background_real_fake_loss(fake_a),
                                losses.generator_background_object_loss(fake_b),
                                losses.generator_child_real_fake_loss(fake_c))
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # Fooling the discriminator more lowers the generator's loss and raises the discriminator's.
    assert losses.generator_child_real_fake_loss(torch.tensor([3.0])) < losses.generator_child_real_fake_loss(
        torch.tensor([0.0]))
    real = torch.tensor([1.0])
    assert losses.discriminator_child_real_fake_loss(real, torch.tensor([3.0])) > \
        losses.discriminator_child_real_fake_loss(real, torch.tensor([0.0]))


def test_classification_and_distance():
    logits_p, logits_c, aux = torch.randn(4, 3), torch.randn(4, 6), torch.randn(4, 6)
    p, c = torch.tensor([0, 1, 2, 0]), torch.tensor([5, 0, 3, 3])
    ce = torch.nn.functional.cross_entropy
    assert torch.allclose(losses.classification_loss(logits_p, p, logits_c, c, aux),
                          ce(logits_p, p) + ce(logits_c, c) + ce(aux, c))
    v = [torch.randn(4, 5) for _ in range(4)]
    a = [torch.randn(4, 2, 3, 3) for _ in range(4)]
    full = losses.latent_distance_loss(v[0], v[1], v[2], v[3], a[0], a[1], a[2], a[3])
    manual = sum(((x - y) ** 2).mean() for x, y in [(v[0], v[1]), (v[2], v[3]), (a[0], a[1]), (a[2], a[3])])
    assert torch.allclose(full, manual)
    no_bypass = losses.latent_distance_loss(v[0], v[1], v[2], v[3], a[0], a[1], a[2], a[3], use_bypass=False)
    assert torch.allclose(no_bypass, ((v[0] - v[1]) ** 2).mean() + ((v[2] - v[3]) ** 2).mean())


def test_regularisers():
    dim = 8
    codes = [torch.full((3, dim), 0.5), torch.zeros(3, dim), torch.ones(3, dim)]
    assert losses.code_regularization_loss(*codes).item() == pytest.approx((0.25 * dim + 0 + dim) / dim)
    good = torch.zeros(2, 1, 10, 10)
    good[:, :, 2:8, 2:8] = 1   # binary, area 0.36
    assert losses.mask_regularization_loss(good).item() == 0.0
    assert losses.mask_regularization_loss(torch.zeros(2, 1, 10, 10)).item() == pytest.approx(0.1)
    assert losses.mask_regularization_loss(torch.ones(2, 1, 10, 10)).item() == pytest.approx(0.1)
    assert losses.mask_regularization_loss(torch.full((2, 1, 10, 10), 0.5)).item() == pytest.approx(0.5)
    assert losses.generation_total_loss(*(torch.tensor(x) for x in (1.0, 2.0, 3.0, 4.0, 5.0))).item() == \
        pytest.approx(1 + 2 + 3 + 0.4 + 10)


def test_kl_matches_torch_distributions():
    """Eq. 15's KL of diagonal Gaussians: summed over the code dimensions, averaged over the batch."""
    torch.manual_seed(0)
    mu, sigma, target = torch.randn(5, 7), torch.rand(5, 7) + 0.1, torch.randn(5, 7)
    expected = kl_divergence(Normal(mu, sigma), Normal(target, torch.ones_like(target))).sum(1).mean()
    assert torch.allclose(losses.gaussian_kl(mu, sigma, target), expected, atol=1e-6)
    assert losses.gaussian_kl(torch.zeros(2, 3), torch.ones(2, 3)).item() == pytest.approx(0.0, abs=1e-7)
    z = (torch.randn(2, 4), torch.rand(2, 4) + 0.2)
    total = losses.vae_loss(mu, sigma, target, mu, sigma, target, *z)
    assert torch.allclose(total, 2 * expected + losses.gaussian_kl(*z))


def test_kl_by_hand_sums_over_dimensions():
    """One sample, d = 3, σ = 1: KL(N(μ, I) || N(m, I)) = ½ ||μ - m||², not its mean over d."""
    mu, target = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.0, 0.0, 1.0]])
    assert losses.gaussian_kl(mu, torch.ones(1, 3), target).item() == pytest.approx(0.5 * (1 + 4 + 4))
    # σ = e, μ = m = 0 in d = 2: each dimension contributes ½ (e² - 1 - 2) .
    e = torch.exp(torch.tensor(1.0))
    assert losses.gaussian_kl(torch.zeros(1, 2), torch.full((1, 2), e)).item() == pytest.approx(float(e ** 2 - 3))


def test_reconstruction_and_perceptual_real_vs_fake():
    image, rec = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    bg, rec_bg = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), -1.0)
    m, rec_m = torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.25)
    assert losses.reconstruction_loss(image, rec).item() == pytest.approx(0.5)
    assert losses.reconstruction_loss(image, rec, bg, rec_bg, m, rec_m).item() == pytest.approx(0.5 + 1 + 0.25)
    f, rf = torch.zeros(2, 4, 2, 2), torch.full((2, 4, 2, 2), 2.0)
    assert losses.perceptual_loss(f, rf).item() == pytest.approx(4.0)
    assert losses.perceptual_loss(f, rf, f, rf * 0.5).item() == pytest.approx(5.0)
    assert losses.autoencoder_total_loss(*(torch.tensor(x) for x in (1.0, 2.0, 3.0, 4.0))).item() == 10.0
    assert losses.autoencoder_total_loss(torch.tensor(1.0), None, torch.tensor(3.0), None).item() == 4.0


def test_mask_sparsity_term_prefers_the_smaller_of_two_valid_masks():
    """L_RM's optional area term (tiny preset): among binary masks inside the area bounds it ranks the
    tighter one lower, by exactly area_weight x the area difference; weight 0 leaves L_RM unchanged."""
    small, large = torch.zeros(2, 1, 10, 10), torch.zeros(2, 1, 10, 10)
    small[:, :, 3:7, 3:7] = 1   # area 0.16
    large[:, :, 1:9, 1:9] = 1   # area 0.64
    for mask, area in ((small, 0.16), (large, 0.64)):
        assert losses.mask_regularization_loss(mask, 0.1, 0.9).item() == 0.0
        assert losses.mask_regularization_loss(mask, 0.1, 0.9, area_weight=0.5).item() == pytest.approx(0.5 * area)
    mask = torch.rand(3, 1, 8, 8, requires_grad=True)
    losses.mask_regularization_loss(mask, 0.0, 1.0, area_weight=2.0).backward()
    binarisation_grad = torch.where(mask.detach() < 0.5, 1.0, -1.0) / mask.numel()
    assert torch.allclose(mask.grad, binarisation_grad + 2.0 / mask.numel(), atol=1e-7)
