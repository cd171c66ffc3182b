"""The OneGAN networks wired into its two paths (§4.1 generation, §4.2 reconstruction).

``OneGANModel`` holds the embeddings, both generators and the three encoders (the discriminators
live apart, one pair per path: see ``discriminator_bank``). Images are in [-1, 1] here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from data_prep.prepared import parent_of
from onegan.config import ModelConfig
from onegan.mixup import MixupWeights, mix
from onegan.networks.embeddings import CodeEmbeddings
from onegan.networks.encoders import BackgroundEncoder, ShapeCode, ShapeEncoder, StyleCode, StyleEncoder
from onegan.networks.generators import BackgroundGenerator, ForegroundGenerator, compose
from onegan.networks.mask_classifier import MaskParentClassifier


class Generated(NamedTuple):
    """Generation path outputs (Eqs. 2-5) and the latent tensors L_MSE compares against."""

    image: torch.Tensor           # I
    foreground: torch.Tensor      # I_fg
    mask: torch.Tensor            # I_m
    background: torch.Tensor      # I_bg
    preimage_fg: torch.Tensor     # A_fg
    preimage_bg: torch.Tensor     # A_bg
    v_bg: torch.Tensor
    v_p: torch.Tensor
    v_c: torch.Tensor


class Reconstructed(NamedTuple):
    """Reconstruction path outputs (§4.2) with the encoder outputs used by L_VAE."""

    image: torch.Tensor           # Î
    foreground: torch.Tensor      # Î_fg
    mask: torch.Tensor            # Î_m
    background: torch.Tensor      # Î_bg
    shape: ShapeCode              # E_p(I)
    style: StyleCode              # E_c(I)
    bypass_bg: torch.Tensor       # B_bg = E_bg(I, Î_m)
    v_p: torch.Tensor             # V_p(argmax ê_p), the target mean of L_VAE_p
    v_c: torch.Tensor             # V_c(argmax ê_c) (or of the requested child), target of L_VAE_c
    parent: torch.Tensor
    child: torch.Tensor



class OneGANModel(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = CodeEmbeddings(config)                 # V_bg, V_p, V_c
        self.background_generator = BackgroundGenerator(config)  # G_bg
        self.foreground_generator = ForegroundGenerator(config)  # G_fg
        self.shape_encoder = ShapeEncoder(config)                # E_p
        self.style_encoder = StyleEncoder(config)                # E_c
        self.background_encoder = BackgroundEncoder(config)      # E_bg
        # Q_m (paper-silent): built only when switched on, so the paper's model has no extra weights.
        self.mask_parent_classifier = MaskParentClassifier(config) if config.mask_parent_classifier else None

    def generate(self, child: torch.Tensor, parent: torch.Tensor, z: torch.Tensor) -> Generated:
        """Generation path (Fig. 1): (e_bg = e_p, e_p, e_c, z) -> I, with mixup off."""
        v_bg, v_p, v_c = self.embeddings(child, parent)
        preimage_bg = self.background_generator.preimage(v_bg, z)
        background = self.background_generator.image(preimage_bg)
        preimage_fg = self.foreground_generator.preimage(v_p, z)
        foreground, mask = self.foreground_generator.style(self.foreground_generator.shape(preimage_fg, v_p), v_c)
        return Generated(compose(background, foreground, mask), foreground, mask, background,
                         preimage_fg, preimage_bg, v_bg, v_p, v_c)

    def reconstruct(self, image: torch.Tensor, betas: MixupWeights, sample: bool = True,
                    child: torch.Tensor | None = None,
                    noise: Callable[[torch.Tensor], torch.Tensor] = torch.randn_like) -> Reconstructed:
        """Reconstruction path (Fig. 2): encode with E_p, E_c; generate I_fg, I_m with mixup 1-3; encode
        the masked image with E_bg; generate I_bg with mixup 4; compose (Eq. 5).

        The embedding side of mixup 1-2 uses the predicted classes (argmax ê_p, ê_c), or ``child``
        (with its parent) when given: swapping the child code translates the image (Fig. 6).
        ``sample=False`` uses the means μ instead of sampling v̂ = μ + σ·ε (inference); ``noise(σ)``
        draws ε shaped like σ (the trainer passes draws keyed by global sample index).
        """
        shape = self.shape_encoder(image)
        style = self.style_encoder(image)
        if sample:
            v_p_hat = shape.mu_p + shape.sigma_p * noise(shape.sigma_p)
            v_c_hat = style.mu_c + style.sigma_c * noise(style.sigma_c)
            z_hat = shape.mu_z + shape.sigma_z * noise(shape.sigma_z)
        else:
            v_p_hat, v_c_hat, z_hat = shape.mu_p, style.mu_c, shape.mu_z
        parent = shape.parent_logits.argmax(1)
        if child is None:
            child = style.child_logits.argmax(1)
            if self.config.reconstruction_class_codes == "straight-through":
                v_bg, v_p, v_c = self.embeddings.from_one_hot(straight_through_one_hot(style.child_logits),
                                                              straight_through_one_hot(shape.parent_logits))
            else:
                v_bg, v_p, v_c = self.embeddings(child, parent)
        else:
            parent = parent_of(child, self.config.num_classes, self.config.num_parents)
            v_bg, v_p, v_c = self.embeddings(child, parent)
        v_p_mix = mix(v_p, v_p_hat, betas.beta1)                                  # mixup 1
        v_c_mix = mix(v_c, v_c_hat, betas.beta2)                                  # mixup 2
        preimage_fg = self.foreground_generator.preimage(v_p_mix, z_hat)
        preimage_fg_mix = mix(preimage_fg, shape.bypass_fg, betas.beta3)          # mixup 3
        foreground, mask = self.foreground_generator.style(
            self.foreground_generator.shape(preimage_fg_mix, v_p_mix), v_c_mix)
        bypass_bg = self.background_encoder(image, mask)
        preimage_bg = self.background_generator.preimage(v_bg, z_hat)
        background = self.background_generator.image(mix(preimage_bg, bypass_bg, betas.beta4))  # mixup 4
        return Reconstructed(compose(background, foreground, mask), foreground, mask, background,
                             shape, style, bypass_bg, v_p, v_c, parent, child)


def straight_through_one_hot(logits: torch.Tensor) -> torch.Tensor:
    """one_hot(argmax) forward, the softmax's gradient backward (``reconstruction_class_codes``)."""
    soft = logits.float().softmax(1)
    hard = F.one_hot(soft.argmax(1), soft.shape[1]).to(soft.dtype)
    return (hard + soft - soft.detach()).to(logits.dtype)


def to_model_range(images: torch.Tensor, size: int) -> torch.Tensor:
    """[0, 1] images at any size -> [-1, 1] at the model's size (bilinear, antialiased)."""
    if images.shape[-1] != size or images.shape[-2] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return images * 2 - 1


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    return ((images + 1) / 2).clamp(0, 1)
