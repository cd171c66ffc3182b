"""Every loss of Eqs. 10-18 as a named function of tensors.

Sign convention: the paper writes the adversarial terms as log-likelihoods, e.g.
L_DbgA = E[log D(x)] + E[log(1 - D(G))], which D *maximises*. Here every function returns the
quantity to *minimise*: the discriminator terms are the corresponding binary cross-entropies
(-L in the paper's notation), and the generator terms are the non-saturating form
-E[log D(G)] of Eq. 11 (the paper's L_G is maximised by the generators). Inputs are logits.
The weights (10 for the background real/fake term, 0.1 L_Rv, 2 L_RM) are the paper's.

L_Rv and L_RM are only named in the paper ("detailed in the supplementary", not available);
their forms here are documented on the functions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BG_ADVERSARIAL_WEIGHT = 10.0
CODE_REGULARIZATION_WEIGHT = 0.1
MASK_REGULARIZATION_WEIGHT = 2.0


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits.float(), target))


# ---- Eq. 10: discriminators -------------------------------------------------------------------------

def discriminator_background_real_fake_loss(real_background_logits: torch.Tensor,
                                            fake_background_logits: torch.Tensor) -> torch.Tensor:
    """-L_DbgA: patches of real backgrounds x ~ X_bg -> real, of generated I_bg -> fake."""
    return _bce(real_background_logits, 1.0) + _bce(fake_background_logits, 0.0)


def discriminator_background_object_loss(real_background_logits: torch.Tensor,
                                         real_object_logits: torch.Tensor) -> torch.Tensor:
    """-L_DbgB: patches of real backgrounds (X_bg) -> background, of real object images (X_c) -> not."""
    return _bce(real_background_logits, 1.0) + _bce(real_object_logits, 0.0)


def discriminator_child_real_fake_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-L_DcA: real object images -> real, generated I -> fake."""
    return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


def discriminator_child_class_loss(generated_child_logits: torch.Tensor, child: torch.Tensor) -> torch.Tensor:
    """D_cB's own training loss: CE(D_cB(I), φ_c) on generated images, the only images whose child
    class is known (the auxiliary task of InfoGAN-style models, §3 "Discriminators"; its generator side
    is the third term of L_E, Eq. 12). The paper lists no equation for the discriminator side; it is
    added to that path's L_D with weight 1."""
    return F.cross_entropy(generated_child_logits.float(), child)


def discriminator_loss(background_real_fake: torch.Tensor, background_object: torch.Tensor,
                       child_real_fake: torch.Tensor, bg_weight: float = BG_ADVERSARIAL_WEIGHT) -> torch.Tensor:
    """-L_D = 10·(-L_DbgA) + (-L_DbgB) + (-L_DcA)  (Eq. 10)."""
    return bg_weight * background_real_fake + background_object + child_real_fake


# ---- Eq. 11: generators ------------------------------------------------------------------------------

def generator_background_real_fake_loss(fake_background_logits: torch.Tensor) -> torch.Tensor:
    """-L_GbgA: the generated background should look like a real background."""
    return _bce(fake_background_logits, 1.0)


def generator_background_object_loss(fake_background_object_logits: torch.Tensor) -> torch.Tensor:
    """-L_GbgB: the generated background should be judged background (no object features)."""
    return _bce(fake_background_object_logits, 1.0)


def generator_child_real_fake_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-L_GcA: the generated image should look like a real object image."""
    return _bce(fake_logits, 1.0)


def generator_loss(background_real_fake: torch.Tensor, background_object: torch.Tensor,
                   child_real_fake: torch.Tensor, bg_weight: float = BG_ADVERSARIAL_WEIGHT) -> torch.Tensor:
    """-L_G = 10·(-L_GbgA) + (-L_GbgB) + (-L_GcA)  (Eq. 11)."""
    return bg_weight * background_real_fake + background_object + child_real_fake


# ---- Eq. 12-14: generation path ----------------------------------------------------------------------

def classification_loss(parent_logits: torch.Tensor, parent: torch.Tensor, child_logits: torch.Tensor,
                        child: torch.Tensor, discriminator_child_logits: torch.Tensor) -> torch.Tensor:
    """L_E = CE(ê_p, φ_p) + CE(ê_c, φ_c) + CE(D_cB(I), φ_c)  (Eq. 12)."""
    return (F.cross_entropy(parent_logits.float(), parent) + F.cross_entropy(child_logits.float(), child)
            + F.cross_entropy(discriminator_child_logits.float(), child))


def mask_parent_loss(mask_parent_logits: torch.Tensor, parent: torch.Tensor) -> torch.Tensor:
    """CE(Q_m(I_m), φ_p): the parent from the generated mask alone (``ModelConfig.mask_parent_classifier``,
    not in the paper; added to L_E with ``LossConfig.mask_parent_weight``)."""
    return F.cross_entropy(mask_parent_logits.float(), parent)


def latent_distance_loss(v_c: torch.Tensor, mu_c: torch.Tensor, v_p: torch.Tensor, mu_p: torch.Tensor,
                         preimage_fg: torch.Tensor, bypass_fg: torch.Tensor,
                         preimage_bg: torch.Tensor, bypass_bg: torch.Tensor,
                         use_bypass: bool = True) -> torch.Tensor:
    """L_MSE = MSE(v_c, μ_c) + MSE(v_p, μ_p) + MSE(A_fg, B_fg) + MSE(A_bg, B_bg)  (Eq. 13).

    The first argument of each pair is the generation-side target; callers detach it so that this
    loss trains the encoders (as §4.1 says). ``use_bypass=False`` ("no bypass") drops the A/B terms.
    """
    loss = F.mse_loss(mu_c.float(), v_c.float()) + F.mse_loss(mu_p.float(), v_p.float())
    if use_bypass:
        loss = loss + F.mse_loss(bypass_fg.float(), preimage_fg.float()) + F.mse_loss(bypass_bg.float(),
                                                                                      preimage_bg.float())
    return loss


def code_regularization_loss(v_bg: torch.Tensor, v_p: torch.Tensor, v_c: torch.Tensor) -> torch.Tensor:
    """L_Rv (documented form; the paper's supplementary is unavailable): an L2 penalty on the
    embedded codes, the mean over the batch of the squared norms ||v_bg||² + ||v_p||² + ||v_c||²
    divided by the code size, which keeps the embeddings at the scale of the unit Gaussian that
    L_VAE pulls the encoder codes towards."""
    dim = v_c.shape[1]
    return sum(v.float().pow(2).sum(1).mean() for v in (v_bg, v_p, v_c)) / dim


def mask_regularization_loss(mask: torch.Tensor, area_min: float = 0.1, area_max: float = 0.9,
                             area_weight: float = 0.0) -> torch.Tensor:
    """L_RM (documented form; the supplementary is unavailable): a mask prior with two terms,
    - binarisation: mean of min(I_m, 1 - I_m), zero only for a hard 0/1 mask;
    - coverage: hinge keeping each mask's mean area inside [area_min, area_max], which rules out the
      trivial all-0 / all-1 masks (the collapse §4.3 describes). Linear, not squared, so that its pull
      does not vanish near the bounds (a squared hinge let tiny runs drift to all-1 masks);
    - optional sparsity ``area_weight`` · mean area (0 in the paper preset): the smallest mask that
      still lets D_bgB see no object in I_bg is the object itself, so this pulls the mask tight
      instead of letting I_fg repaint background around the object."""
    mask = mask.float()
    binary = torch.minimum(mask, 1 - mask).mean()
    area = mask.flatten(1).mean(1)
    coverage = (F.relu(area_min - area) + F.relu(area - area_max)).mean()
    return binary + coverage + area_weight * area.mean()


def generation_total_loss(adversarial: torch.Tensor, classification: torch.Tensor, latent_distance: torch.Tensor,
                          code_regularization: torch.Tensor, mask_regularization: torch.Tensor | None,
                          code_weight: float = CODE_REGULARIZATION_WEIGHT,
                          mask_weight: float = MASK_REGULARIZATION_WEIGHT) -> torch.Tensor:
    """L_GEN = L_G + L_E + L_MSE + 0.1·L_Rv + 2·L_RM  (Eq. 14; ``mask_regularization=None`` for "no L_RM")."""
    total = adversarial + classification + latent_distance + code_weight * code_regularization
    return total if mask_regularization is None else total + mask_weight * mask_regularization


# ---- Eq. 15-18: reconstruction path ------------------------------------------------------------------

def gaussian_kl(mu: torch.Tensor, sigma: torch.Tensor, target_mean: torch.Tensor | None = None) -> torch.Tensor:
    """D_KL(N(μ, diag(σ²)) || N(m, I)) = ½ Σ_j (σ_j² + (μ_j - m_j)² - 1 - log σ_j²): summed over the
    code dimensions j as Eq. 15 writes it (the KL of the multivariate Gaussians), averaged over the
    batch. σ is a standard deviation."""
    mu, sigma = mu.float(), sigma.float()
    diff = mu if target_mean is None else mu - target_mean.float()
    return 0.5 * (sigma.pow(2) + diff.pow(2) - 1 - 2 * sigma.log()).sum(1).mean()


def vae_loss(mu_p: torch.Tensor, sigma_p: torch.Tensor, v_p: torch.Tensor, mu_c: torch.Tensor,
             sigma_c: torch.Tensor, v_c: torch.Tensor, mu_z: torch.Tensor, sigma_z: torch.Tensor) -> torch.Tensor:
    """L_VAE = KL(N(μ_p, σ_p)||N(v_p, I)) + KL(N(μ_c, σ_c)||N(v_c, I)) + KL(N(μ_z, σ_z)||N(0, I))  (Eq. 15)."""
    return gaussian_kl(mu_p, sigma_p, v_p) + gaussian_kl(mu_c, sigma_c, v_c) + gaussian_kl(mu_z, sigma_z)


def reconstruction_loss(image: torch.Tensor, reconstruction: torch.Tensor,
                        background: torch.Tensor | None = None, reconstructed_background: torch.Tensor | None = None,
                        mask: torch.Tensor | None = None, reconstructed_mask: torch.Tensor | None = None
                        ) -> torch.Tensor:
    """L_REC (Eq. 16): L1(I, Î) for real images; + L1(I_bg, Î_bg) + L1(I_m, Î_m) for fake ones
    (pass the generated background and mask)."""
    loss = F.l1_loss(reconstruction.float(), image.float())
    if background is not None:
        loss = loss + F.l1_loss(reconstructed_background.float(), background.float())
    if mask is not None:
        loss = loss + F.l1_loss(reconstructed_mask.float(), mask.float())
    return loss


def perceptual_loss(child_features: torch.Tensor, reconstructed_child_features: torch.Tensor,
                    background_features: torch.Tensor | None = None,
                    reconstructed_background_features: torch.Tensor | None = None) -> torch.Tensor:
    """L_PER (Eq. 17): mean squared distance of D_cC features of I and Î; for fake images plus that
    of D_bgC features of I_bg and Î_bg. The discriminators serve as feature extractors (no
    pretrained network); the targets (I, I_bg features) are detached by the caller."""
    loss = F.mse_loss(reconstructed_child_features.float(), child_features.float())
    if background_features is not None:
        loss = loss + F.mse_loss(reconstructed_background_features.float(), background_features.float())
    return loss


def autoencoder_total_loss(generation: torch.Tensor, vae: torch.Tensor | None, reconstruction: torch.Tensor,
                           perceptual: torch.Tensor | None) -> torch.Tensor:
    """L_AE = L_GEN + L_VAE + L_REC + L_PER  (Eq. 18); ``None`` for a term an ablation removes."""
    return generation + reconstruction + sum(t for t in (vae, perceptual) if t is not None)
