"""Mixup between the encoders and the generators (Eq. 9).

    v_p_mix = v_p ∘ (1 - β1) + v̂_p ∘ β1        v_c_mix = v_c ∘ (1 - β2) + v̂_c ∘ β2
    A_fg_mix = A_fg ∘ (1 - β3) + B_fg ∘ β3      A_bg_mix = A_bg ∘ (1 - β4) + B_bg ∘ β4

β1, β2 ~ U[0, 1] and β3, β4 ~ U[0.5, 1], drawn per instance at every iteration of the reconstruction
path. In generation there is no encoder input, so mixup is off (β = 0). Ablations: a fixed β for
mixup 1-2 or 3-4 (``ModelConfig.mixup_codes_beta`` / ``mixup_bypass_beta``), and "no bypass"
(β3 = β4 = 0: the bypasses are ignored).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from onegan.config import ModelConfig

CODE_BETA_RANGE = (0.0, 1.0)      # β1, β2
BYPASS_BETA_RANGE = (0.5, 1.0)    # β3, β4


class MixupWeights(NamedTuple):
    """Per-instance β's, shaped (N,) each."""

    beta1: torch.Tensor
    beta2: torch.Tensor
    beta3: torch.Tensor
    beta4: torch.Tensor


def mix(generated: torch.Tensor, encoded: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """generated ∘ (1 - β) + encoded ∘ β, β (N,) broadcast over the remaining dimensions."""
    beta = beta.to(generated.dtype).view(-1, *([1] * (generated.dim() - 1)))
    return generated * (1 - beta) + encoded * beta


def _uniform(n: int, low: float, high: float, device: torch.device | str,
             generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, device=device, generator=generator)


def sample_mixup_weights(n: int, config: ModelConfig, device: torch.device | str = "cpu",
                         generator: torch.Generator | None = None) -> MixupWeights:
    """β's for one reconstruction batch (the paper's ranges, or the ablation's fixed values)."""
    if config.mixup_codes_beta is None:
        beta1 = _uniform(n, *CODE_BETA_RANGE, device, generator)
        beta2 = _uniform(n, *CODE_BETA_RANGE, device, generator)
    else:
        beta1 = beta2 = torch.full((n,), float(config.mixup_codes_beta), device=device)
    if not config.bypass:
        beta3 = beta4 = torch.zeros(n, device=device)
    elif config.mixup_bypass_beta is None:
        beta3 = _uniform(n, *BYPASS_BETA_RANGE, device, generator)
        beta4 = _uniform(n, *BYPASS_BETA_RANGE, device, generator)
    else:
        beta3 = beta4 = torch.full((n,), float(config.mixup_bypass_beta), device=device)
    return MixupWeights(beta1, beta2, beta3, beta4)


def inference_mixup_weights(n: int, config: ModelConfig, device: torch.device | str = "cpu") -> MixupWeights:
    """Deterministic β's for inference: the mean of the training distribution (or the fixed value)."""
    def fixed(value: float) -> torch.Tensor:
        return torch.full((n,), value, device=device)
    codes = sum(CODE_BETA_RANGE) / 2 if config.mixup_codes_beta is None else config.mixup_codes_beta
    if not config.bypass:
        bypass = 0.0
    else:
        bypass = sum(BYPASS_BETA_RANGE) / 2 if config.mixup_bypass_beta is None else config.mixup_bypass_beta
    return MixupWeights(fixed(codes), fixed(codes), fixed(bypass), fixed(bypass))


def generation_mixup_weights(n: int, device: torch.device | str = "cpu") -> MixupWeights:
    """Generation: mixup off, β = 0 everywhere."""
    zeros = torch.zeros(n, device=device)
    return MixupWeights(zeros, zeros, zeros, zeros)
