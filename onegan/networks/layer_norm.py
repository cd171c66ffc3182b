"""LNorm computed with reductions that use a whole GPU (``PerformanceConfig.fused_layer_norm``).

LNorm (§3 "GLU Layer Normalization") normalises each sample over (C, H, W) and applies a per-channel
scale γ_c and shift β_c; today it is ``nn.GroupNorm(1, C)``. On a GPU that module is slow at the
paper's shapes for two reasons seen in ``results/studies/speed/profile_onegan_step_h100.txt``:

- its CUDA forward computes each sample's moments in one thread block per (sample, group) row: 20
  blocks for a batch of 20 on a GPU with 132 multiprocessors (190 µs a call, 24% of kernel time);
- its CUDA kernels want NCHW, so a channels_last input is copied to NCHW and the output copied back
  by the next convolution (most of the 18% ``copy_``).

``FusedLayerNorm`` is the same function computed differently: the moments by ``torch.var_mean`` over
(C, H, W), whose reduction splits a few long rows over many blocks; the normalisation and affine as
one ``addcmul`` with a per-(sample, channel) scale r_n·γ_c and shift β_c − μ_n·r_n·γ_c; the backward
pass written out (below) with reductions and element-wise ops only. Every op is layout-agnostic, so
a channels_last input (or the strided half of a GLU's channels) stays as it is. It subclasses
``nn.GroupNorm``: the same parameter names (``weight``, ``bias``) and initialisation, so checkpoints
load either way.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

_LOW_PRECISION = (torch.bfloat16, torch.float16)


def _moments(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ_n, r_n = 1/sqrt(σ²_n + eps)) per sample, shaped (N, 1, 1, ...), in float32 at least."""
    stats_input = x.float() if x.dtype in _LOW_PRECISION else x
    var, mean = torch.var_mean(stats_input, dim=tuple(range(1, x.dim())), correction=0, keepdim=True)
    return mean, torch.rsqrt(var + eps)


def _per_channel(parameter: torch.Tensor, ndim: int) -> torch.Tensor:
    return parameter.view(1, -1, *([1] * (ndim - 2)))


class _LayerNormFunction(torch.autograd.Function):
    """y = (x − μ_n)·r_n·γ_c + β_c with μ_n, σ²_n over every non-batch dimension of sample n."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
        mean, rstd = _moments(x, eps)
        scale = _per_channel(weight, x.dim()) * rstd          # (N, C, 1, 1): r_n·γ_c
        shift = _per_channel(bias, x.dim()) - mean * scale   # β_c − μ_n·r_n·γ_c
        ctx.save_for_backward(x, weight, mean, rstd)
        return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        # With g = γ_c·dy and x̂ = (x − μ)·r over the M = C·H·W values of a sample:
        #   dx = r·(g − mean(g) − x̂·mean(g·x̂)),  dγ_c = Σ_{n,h,w} dy·x̂,  dβ_c = Σ_{n,h,w} dy.
        # Through per-(n, c) sums S_dy = Σ_hw dy and S_dyx = Σ_hw dy·x (GroupNorm's own backward
        # does the same): Σ g = Σ_c γ_c S_dy =: B_n, Σ g·x = Σ_c γ_c S_dyx =: A_n, and
        #   dx = r·γ_c·dy + c2_n·x + c3_n,  c2 = r³(μB − A)/M,  c3 = −c2·μ − r·B/M.
        x, weight, mean, rstd = ctx.saved_tensors
        spatial = tuple(range(2, x.dim()))
        accumulate = torch.float32 if x.dtype in _LOW_PRECISION else x.dtype
        grad = grad_out.to(accumulate)
        values = x.to(accumulate)
        sum_dy = grad.sum(dim=spatial, keepdim=True)                    # (N, C, 1, 1)
        sum_dy_x = (grad * values).sum(dim=spatial, keepdim=True)
        gamma = _per_channel(weight, x.dim()).to(accumulate)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            count = x[0].numel()
            b = (sum_dy * gamma).sum(dim=1, keepdim=True)                # (N, 1, 1, 1)
            a = (sum_dy_x * gamma).sum(dim=1, keepdim=True)
            c2 = (mean * b - a) * rstd.pow(3) / count
            c3 = -c2 * mean - rstd * b / count
            # x's layout first, so that dx keeps it whatever the layout of the incoming gradient.
            grad_x = torch.addcmul(c3, values, c2).addcmul_(grad, gamma * rstd).to(x.dtype)
        if ctx.needs_input_grad[1]:
            # Σ dy·x̂ = r·(S_dyx − μ·S_dy), summed over the batch.
            grad_weight = ((sum_dy_x - mean * sum_dy) * rstd).sum(dim=0).flatten().to(weight.dtype)
        if ctx.needs_input_grad[2]:
            grad_bias = sum_dy.sum(dim=0).flatten().to(weight.dtype)
        return grad_x, grad_weight, grad_bias, None


class FusedLayerNorm(nn.GroupNorm):
    """LNorm for (N, C, *): ``nn.GroupNorm(1, C)``'s function and parameters, computed with
    multi-block reductions and without layout copies (module docstring). Under autocast it computes in
    float32 and returns the dtype GroupNorm returns there (float32 on CUDA, the input's on CPU)."""

    def __init__(self, num_channels: int, eps: float = 1e-5, device=None, dtype=None) -> None:
        super().__init__(1, num_channels, eps=eps, affine=True, device=device, dtype=dtype)

    @classmethod
    def from_group_norm(cls, module: nn.GroupNorm) -> FusedLayerNorm:
        """A FusedLayerNorm sharing ``module``'s parameters (the same Parameter objects)."""
        if module.num_groups != 1 or not module.affine:
            raise ValueError(f"only GroupNorm(1, C) with affine is LNorm, got {module}")
        fused = cls.__new__(cls)
        nn.Module.__init__(fused)
        fused.num_groups, fused.num_channels, fused.eps, fused.affine = 1, module.num_channels, module.eps, True
        fused.weight, fused.bias = module.weight, module.bias
        return fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device_type = x.device.type
        if torch.is_autocast_enabled(device_type):
            out_dtype = _autocast_group_norm_dtype(device_type, torch.get_autocast_dtype(device_type))
            with torch.autocast(device_type, enabled=False):
                return _LayerNormFunction.apply(x.float(), self.weight, self.bias, self.eps).to(out_dtype)
        return _LayerNormFunction.apply(x, self.weight, self.bias, self.eps)


_AUTOCAST_DTYPES: dict[tuple[str, torch.dtype], torch.dtype] = {}


def _autocast_group_norm_dtype(device_type: str, dtype: torch.dtype) -> torch.dtype:
    """The dtype GroupNorm returns for a ``dtype`` input under ``device_type``'s autocast: float32 on
    CUDA (group_norm is on its float32 list), the input's own on CPU (it is not on that list). Asked
    of PyTorch once per pair, so that FusedLayerNorm follows whichever policy the installed version has."""
    key = (device_type, dtype)
    if key not in _AUTOCAST_DTYPES:
        probe = torch.zeros(1, 1, 1, 1, dtype=dtype, device=device_type)
        with torch.autocast(device_type, dtype=dtype):
            _AUTOCAST_DTYPES[key] = torch.group_norm(probe, 1).dtype
    return _AUTOCAST_DTYPES[key]


def use_fused_layer_norm(module: nn.Module) -> int:
    """Replace every LNorm (``nn.GroupNorm`` with one group and affine) inside ``module`` by a
    ``FusedLayerNorm`` sharing its parameters; returns how many were replaced. State-dict keys and
    values are unchanged, so call it before or after loading a checkpoint."""
    replaced = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.GroupNorm and child.num_groups == 1 and child.affine:
                setattr(parent, name, FusedLayerNorm.from_group_norm(child))
                replaced += 1
    return replaced
