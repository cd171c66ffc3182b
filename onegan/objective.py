"""OneGAN's objective (Eqs. 10-18), assembled by the paper's names: the D loss L_D of each path's
discriminator pair, and the loss every generator, encoder and embedding minimises, L_GEN on the
generation path plus L_AE on each reconstruction path. The terms themselves are functions of tensors
in ``onegan.losses`` (signs: every value here is a quantity to *minimise*, see there).

The names below (``L_D``, ``L_G``, ``L_RM``, ...) are the paper's and the keys of the training log
(``"<path>/<name>"``, the path as ``PATH_PREFIX`` abbreviates it); ``active_losses`` says which run at an
iteration under a config.

**The deviation from Eq. 18.** The paper writes L_AE = L_GEN + L_VAE + L_REC + L_PER without saying what
L_GEN is on a reconstruction. Here the generation path's L_GEN (Eq. 14) is added once, and on each
reconstruction path the "L_GEN" inside L_AE holds only the terms of Eq. 14 that exist for a
reconstruction: that path's L_G (Eq. 11) against its own discriminator pair and 2·L_RM on the
reconstructed mask. L_E, L_MSE and L_Rv need known codes and run on the generation path only. So the
total minimised is L_GEN(generation) + Σ over active reconstruction paths [L_G + 2·L_RM + L_VAE + L_REC
+ L_PER] (``reconstruction_objective``).
"""

from __future__ import annotations

import torch
from torch import nn

from onegan import losses
from onegan.config import LossConfig, OneGANConfig
from onegan.model import Generated, OneGANModel, Reconstructed
from onegan.networks.discriminators import ChildJudgement, DiscriminatorPair
from onegan.nuisance_augmentation import nuisance_augment, rotate_hue
from onegan.schedule import FAKE_RECONSTRUCTION, GENERATION, REAL_RECONSTRUCTION, PhaseSchedule

# ---- the paper's names (and the log's) -------------------------------------------------------------
# Eq. 10, the discriminators: L_D = 10·L_DbgA + L_DbgB + L_DcA, plus D_cB's own L_DcB on the generation path.
L_DbgA, L_DbgB, L_DcA, L_DcB, L_D = "L_DbgA", "L_DbgB", "L_DcA", "L_DcB", "L_D"
# Eq. 11, the generators: L_G = 10·L_GbgA + L_GbgB + L_GcA.
L_GbgA, L_GbgB, L_GcA, L_G = "L_GbgA", "L_GbgB", "L_GcA", "L_G"
# Eqs. 12-14, the generation path: L_GEN = L_G + L_E + L_MSE + 0.1·L_Rv + 2·L_RM (L_Qm: paper-silent Q_m).
L_E, L_Qm, L_MSE, L_Rv, L_RM, L_GEN = "L_E", "L_Qm", "L_MSE", "L_Rv", "L_RM", "L_GEN"
# Eqs. 15-18, the reconstruction paths: L_AE = L_GEN + L_VAE + L_REC + L_PER.
L_VAE, L_REC, L_PER, L_AE = "L_VAE", "L_REC", "L_PER", "L_AE"
# What the generators, encoders and embeddings minimise: L_GEN + Σ L_AE (logged without a path).
L_TOTAL = "L_total"
# The weighted sums, as opposed to the terms that ``active_losses`` lists.
TOTALS: tuple[str, ...] = (L_D, L_G, L_GEN, L_AE)

PATH_PREFIX = {GENERATION: "gen", FAKE_RECONSTRUCTION: "fake", REAL_RECONSTRUCTION: "real"}


def log_names(path: str, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``terms`` keyed as the training log keys them: ``"<path prefix>/<paper name>"``."""
    return {f"{PATH_PREFIX[path]}/{name}": value for name, value in terms.items()}


def active_losses(config: OneGANConfig, iteration: int) -> dict[str, tuple[str, ...]]:
    """The losses that run at ``iteration`` on each active path under ``config`` (its ablation
    included), named as the trainer logs them: Eq. 10 (L_DbgA, L_DbgB, L_DcA, and D_cB's own
    L_DcB on the generation path), Eq. 11 (L_GbgA, L_GbgB, L_GcA), Eq. 12-14 on the generation path (and
    L_Qm when ``ModelConfig.mask_parent_classifier`` is on),
    Eq. 15-17 on the reconstruction paths. The weighted sums (``TOTALS``) are not listed."""
    loss = config.loss
    mask = (L_RM,) if loss.use_mask_regularization else ()
    adversarial = (L_DbgA, L_DbgB, L_DcA, L_GbgA, L_GbgB, L_GcA)
    mask_parent = (L_Qm,) if config.model.mask_parent_classifier else ()
    groups = {GENERATION: (*adversarial, L_DcB, L_E, *mask_parent, L_MSE, L_Rv, *mask)}
    for path in PhaseSchedule(config.schedule).active_paths(iteration)[1:]:
        groups[path] = (*adversarial, *mask, *((L_VAE,) if loss.use_vae else ()), L_REC,
                        *((L_PER,) if loss.use_perceptual else ()))
    return groups


# ---- Eq. 10: the D loss ------------------------------------------------------------------------------

def path_discriminator_loss(pair: DiscriminatorPair, real: torch.Tensor, real_background: torch.Tensor,
                            fake_image: torch.Tensor, fake_background: torch.Tensor, loss: LossConfig,
                            child: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """-L_D (Eq. 10) of one path's pair on real object images X_c, real background patches X_bg and the
    path's (detached) fake image and background; ``child``: the generation path's codes, whose D_cB term
    L_DcB (the auxiliary child classifier, weight 1) joins that path's L_D. Returns the terms and L_D."""
    real_bg_judgement = pair.background(real_background)
    dbg_a = losses.discriminator_background_real_fake_loss(
        real_bg_judgement.real_fake, pair.background(fake_background.detach()).real_fake)
    dbg_b = losses.discriminator_background_object_loss(
        real_bg_judgement.background, pair.background(real).background)
    fake_child = pair.child(fake_image.detach())
    dc_a = losses.discriminator_child_real_fake_loss(pair.child(real).real_fake, fake_child.real_fake)
    terms = {L_DbgA: dbg_a, L_DbgB: dbg_b, L_DcA: dc_a}
    l_d = losses.discriminator_loss(dbg_a, dbg_b, dc_a, loss.bg_adversarial_weight)
    if child is not None:
        # D_cB learns the child class from generated images (the only labelled ones).
        terms[L_DcB] = losses.discriminator_child_class_loss(fake_child.child_logits, child)
        l_d = l_d + terms[L_DcB]
    terms[L_D] = l_d
    return terms


def discriminator_objective(discriminators: nn.ModuleDict, fakes: dict[str, tuple[torch.Tensor, torch.Tensor]],
                            real: torch.Tensor, real_background: torch.Tensor, child: torch.Tensor,
                            loss: LossConfig) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Σ over the active paths of -L_D (Eq. 10), each path's pair judging that path's fakes
    (``fakes[path] = (image, background)``). Returns (the named terms, as logged; the sum)."""
    named: dict[str, torch.Tensor] = {}
    total = torch.zeros((), device=real.device)
    for path, (fake_image, fake_background) in fakes.items():
        terms = path_discriminator_loss(discriminators[path], real, real_background, fake_image, fake_background,
                                        loss, child if path == GENERATION else None)
        named.update(log_names(path, terms))
        total = total + terms[L_D]
    return named, total


# ---- Eqs. 11-18: the G loss --------------------------------------------------------------------------

def adversarial_loss(pair: DiscriminatorPair, image: torch.Tensor, background: torch.Tensor, loss: LossConfig
                     ) -> tuple[dict[str, torch.Tensor], ChildJudgement]:
    """-L_G (Eq. 11) of one path's image I and background I_bg against that path's pair; returns (the
    terms and L_G, D_c's judgement of the image, whose D_cB logits and D_cC features L_E and L_PER use)."""
    background_judgement = pair.background(background)
    child_judgement = pair.child(image)
    gbg_a = losses.generator_background_real_fake_loss(background_judgement.real_fake)
    gbg_b = losses.generator_background_object_loss(background_judgement.background)
    gc_a = losses.generator_child_real_fake_loss(child_judgement.real_fake)
    l_g = losses.generator_loss(gbg_a, gbg_b, gc_a, loss.bg_adversarial_weight)
    return {L_GbgA: gbg_a, L_GbgB: gbg_b, L_GcA: gc_a, L_G: l_g}, child_judgement


def mask_prior(mask: torch.Tensor, loss: LossConfig) -> torch.Tensor:
    """L_RM of a mask I_m under the config's area bounds (``onegan.losses.mask_regularization_loss``)."""
    return losses.mask_regularization_loss(mask, loss.mask_area_min, loss.mask_area_max, loss.mask_area_weight)


def generation_objective(model: OneGANModel, pair: DiscriminatorPair, generated: Generated, child: torch.Tensor,
                         parent: torch.Tensor, config: OneGANConfig, nuisance: torch.Tensor | None = None,
                         hue: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """L_GEN = L_G + L_E + L_MSE + 0.1·L_Rv + 2·L_RM (Eq. 14) of the generation path, with its terms.

    Paper-silent switches: ``nuisance`` (``LossConfig.nuisance_augmentation``) has E_p, E_c classify a
    copy of I whose nuisances are re-drawn (``hue``: E_p's copy also hue-rotated); a Q_m
    (``ModelConfig.mask_parent_classifier``) adds ``mask_parent_weight``·L_Qm to L_E (the logged L_E
    is without it)."""
    loss_cfg = config.loss
    terms, child_judgement = adversarial_loss(pair, generated.image, generated.background, loss_cfg)
    shape = model.shape_encoder(generated.image)
    style = model.style_encoder(generated.image)
    bypass_bg = model.background_encoder(generated.image, generated.mask)
    parent_logits, child_logits = shape.parent_logits, style.child_logits
    if nuisance is not None:
        # E_p, E_c classify a copy whose nuisances are re-drawn (LossConfig.nuisance_augmentation);
        # L_MSE keeps the unmoved image, whose bypass B_fg is aligned with A_fg.
        moved = nuisance_augment(generated.foreground, generated.mask, generated.background, nuisance, loss_cfg)
        parent_logits = model.shape_encoder(moved if hue is None else rotate_hue(moved, hue)).parent_logits
        child_logits = model.style_encoder(moved).child_logits
    l_e = terms[L_E] = losses.classification_loss(parent_logits, parent, child_logits, child,
                                                  child_judgement.child_logits)
    l_mse = terms[L_MSE] = losses.latent_distance_loss(
        generated.v_c.detach(), style.mu_c, generated.v_p.detach(), shape.mu_p, generated.preimage_fg.detach(),
        shape.bypass_fg, generated.preimage_bg.detach(), bypass_bg, config.model.bypass)
    l_rv = terms[L_Rv] = losses.code_regularization_loss(generated.v_bg, generated.v_p, generated.v_c)
    if model.mask_parent_classifier is not None:
        l_qm = terms[L_Qm] = losses.mask_parent_loss(model.mask_parent_classifier(generated.mask), parent)
        l_e = l_e + loss_cfg.mask_parent_weight * l_qm
    l_rm = None
    if loss_cfg.use_mask_regularization:
        l_rm = terms[L_RM] = mask_prior(generated.mask, loss_cfg)
    terms[L_GEN] = losses.generation_total_loss(terms[L_G], l_e, l_mse, l_rv, l_rm,
                                                loss_cfg.code_regularization_weight,
                                                loss_cfg.mask_regularization_weight)
    return terms


def reconstruction_objective(pair: DiscriminatorPair, path: str, source: torch.Tensor, rec: Reconstructed,
                             generated: Generated, loss: LossConfig) -> dict[str, torch.Tensor]:
    """L_AE = L_GEN + L_VAE + L_REC + L_PER (Eq. 18) of one reconstruction path (fake images, or real
    ones; ``source`` is the image reconstructed as ``rec``), with its terms.

    Deviation: the L_GEN here is that path's L_G (Eq. 11, against its own pair) + 2·L_RM of the
    reconstructed mask, the only terms of Eq. 14 that exist for a reconstruction (see the module
    docstring). On fake images L_REC and L_PER also compare the background (and L_REC the mask) with
    the generated I_bg and I_m."""
    terms, rec_child_judgement = adversarial_loss(pair, rec.image, rec.background, loss)
    l_gen = terms[L_G]  # L_GEN's terms that exist for a reconstruction: L_G and L_RM
    if loss.use_mask_regularization:
        l_rm = terms[L_RM] = mask_prior(rec.mask, loss)
        l_gen = l_gen + loss.mask_regularization_weight * l_rm
    l_vae = l_per = None
    if loss.use_vae:
        l_vae = terms[L_VAE] = losses.vae_loss(
            rec.shape.mu_p, rec.shape.sigma_p, rec.v_p.detach(), rec.style.mu_c, rec.style.sigma_c,
            rec.v_c.detach(), rec.shape.mu_z, rec.shape.sigma_z)
    fake = path == FAKE_RECONSTRUCTION
    l_rec = terms[L_REC] = losses.reconstruction_loss(
        source, rec.image,
        generated.background.detach() if fake else None, rec.background if fake else None,
        generated.mask.detach() if fake else None, rec.mask if fake else None)
    if loss.use_perceptual:
        target_child = pair.child(source).features.detach()
        target_bg = pair.background(generated.background.detach()).features.detach() if fake else None
        rec_bg = pair.background(rec.background).features if fake else None
        l_per = terms[L_PER] = losses.perceptual_loss(target_child, rec_child_judgement.features, target_bg, rec_bg)
    terms[L_AE] = losses.autoencoder_total_loss(l_gen, l_vae, l_rec, l_per)
    return terms


def generator_objective(model: OneGANModel, discriminators: nn.ModuleDict, generated: Generated,
                        child: torch.Tensor, parent: torch.Tensor,
                        reconstructions: dict[str, tuple[torch.Tensor, Reconstructed]], config: OneGANConfig,
                        nuisance: torch.Tensor | None = None, hue: torch.Tensor | None = None
                        ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """What every generator, encoder and embedding minimises, discriminators frozen: L_GEN of the
    generation path (Eq. 14) + L_AE of each active reconstruction path (Eq. 18, ``reconstructions[path] =
    (source image, its reconstruction)``). Returns (the named terms, as logged, with ``L_TOTAL``; the sum)."""
    gen = generation_objective(model, discriminators[GENERATION], generated, child, parent, config, nuisance, hue)
    named = log_names(GENERATION, gen)
    total = gen[L_GEN]
    for path, (source, rec) in reconstructions.items():
        terms = reconstruction_objective(discriminators[path], path, source, rec, generated, config.loss)
        named.update(log_names(path, terms))
        total = total + terms[L_AE]
    named[L_TOTAL] = total
    return named, total
