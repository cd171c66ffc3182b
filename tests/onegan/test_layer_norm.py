"""FusedLayerNorm (onegan/networks/layer_norm.py) against today's LNorm, nn.GroupNorm(1, C), and against
a brute-force formula: forward and backward in float32 and under bfloat16 autocast, in NCHW, in
channels_last and on the strided half of a GLU's channels; checkpoints load either way; and the
channels_last switch gives the contiguous path's outputs without layout flips in the LNorms."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from onegan.config import OneGANConfig
from onegan.model import OneGANModel
from onegan.networks.discriminators import DiscriminatorPair
from onegan.networks.layer_norm import FusedLayerNorm, _LayerNormFunction, use_fused_layer_norm
from onegan.trainer import Trainer

SHAPES = [(2, 3, 5, 7), (20, 64, 8, 8), (1, 8, 4, 4), (4, 16, 1, 1), (3, 6, 2, 9)]


def _pair(channels: int) -> tuple[nn.GroupNorm, FusedLayerNorm]:
    group_norm = nn.GroupNorm(1, channels)
    with torch.no_grad():
        group_norm.weight.uniform_(0.5, 1.5)
        group_norm.bias.uniform_(-1, 1)
    return group_norm, FusedLayerNorm.from_group_norm(group_norm)


def _layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "glu_half":  # x_L of GLUNorm: the first half of the channels of a wider tensor
        wide = torch.cat([x, torch.randn_like(x)], dim=1).contiguous(memory_format=torch.channels_last)
        return wide.chunk(2, dim=1)[0]
    return x


def _grads(module: nn.Module, x: torch.Tensor, grad_out: torch.Tensor, autocast: bool = False):
    x = x.detach().clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y = module(x)
    grads = torch.autograd.grad(y, [x, module.weight, module.bias], grad_out.to(y.dtype))
    return y, grads


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "glu_half"])
def test_fused_layer_norm_equals_group_norm_in_float32(shape, layout):
    torch.manual_seed(sum(shape))
    group_norm, fused = _pair(shape[1])
    x = _layout(torch.randn(shape) * 3 + 1.5, layout)
    grad_out = torch.randn(shape)
    y_ref, grads_ref = _grads(group_norm, x, grad_out)
    y, grads = _grads(fused, x, grad_out)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    for name, got, want in zip(("x", "weight", "bias"), grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4, msg=lambda m, n=name: f"grad {n}: {m}")
    # No layout change: a channels_last input gives a channels_last output.
    if layout != "nchw" and shape[2] * shape[3] > 1:
        assert y.is_contiguous(memory_format=torch.channels_last)


def test_fused_layer_norm_matches_the_formula_in_float64():
    """Brute force: y = (x - mean) / sqrt(var + eps) * γ + β per sample; gradients by autograd of it."""
    torch.manual_seed(0)
    fused = FusedLayerNorm(5).double()
    with torch.no_grad():
        fused.weight.uniform_(0.5, 1.5)
        fused.bias.uniform_(-1, 1)
    x = torch.randn(3, 5, 4, 6, dtype=torch.float64, requires_grad=True)

    def formula(x, weight, bias):
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        var = ((x - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) / torch.sqrt(var + fused.eps) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)

    torch.testing.assert_close(fused(x), formula(x, fused.weight, fused.bias), rtol=1e-12, atol=1e-12)
    weight = fused.weight.detach().clone().requires_grad_(True)
    bias = fused.bias.detach().clone().requires_grad_(True)
    # The hand-written backward against finite differences of the forward.
    assert torch.autograd.gradcheck(lambda x, w, b: _LayerNormFunction.apply(x, w, b, fused.eps), (x, weight, bias))
    # And against autograd of the formula.
    grad_out = torch.randn_like(x)
    expected = torch.autograd.grad(formula(x, weight, bias), [x, weight, bias], grad_out)
    got = torch.autograd.grad(_LayerNormFunction.apply(x, weight, bias, fused.eps), [x, weight, bias], grad_out)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES[:3])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_fused_layer_norm_equals_group_norm_under_bf16_autocast(shape, layout):
    torch.manual_seed(1 + sum(shape))
    group_norm, fused = _pair(shape[1])
    conv = nn.Conv2d(shape[1], shape[1], 1)  # under autocast the norm sees a bfloat16 conv output
    x = _layout(torch.randn(shape), layout)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = conv(x)
    h = h.detach()
    grad_out = torch.randn(shape)
    y_ref, grads_ref = _grads(group_norm, h, grad_out, autocast=True)
    y, grads = _grads(fused, h, grad_out, autocast=True)
    assert y.dtype == y_ref.dtype and grads[0].dtype == grads_ref[0].dtype == torch.bfloat16
    # One bfloat16 rounding apart at most (2^-8 relative).
    torch.testing.assert_close(y.float(), y_ref.float(), rtol=1e-2, atol=1e-2)
    for got, want in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got.float(), want.float(), rtol=2e-2, atol=2e-2)


def test_every_lnorm_of_the_networks_is_replaced_and_checkpoints_load_either_way():
    config = OneGANConfig.preset("smoke", 4, 2).model
    torch.manual_seed(0)
    plain = nn.ModuleDict({"model": OneGANModel(config), "d": DiscriminatorPair(config)})
    torch.manual_seed(0)
    fused = nn.ModuleDict({"model": OneGANModel(config), "d": DiscriminatorPair(config)})
    lnorms = sum(1 for m in plain.modules() if isinstance(m, nn.GroupNorm) and m.num_groups == 1)
    assert use_fused_layer_norm(fused) == lnorms > 10
    assert not any(type(m) is nn.GroupNorm for m in fused.modules())
    before = plain.state_dict()
    assert list(fused.state_dict()) == list(before)  # same keys, same order
    fused.load_state_dict(before)  # a checkpoint of today's networks loads into the fused ones
    plain.load_state_dict(fused.state_dict())  # and back
    # The INorm variants keep InstanceNorm (not LNorm): only the encoders' LNorms are replaced.
    inorm = OneGANModel(dataclasses.replace(config, normalization="glu-inorm"))
    instance_norms = sum(1 for m in inorm.modules() if isinstance(m, nn.InstanceNorm2d))
    group_norms = sum(1 for m in inorm.modules() if type(m) is nn.GroupNorm)
    assert use_fused_layer_norm(inorm) == group_norms < lnorms
    assert sum(1 for m in inorm.modules() if isinstance(m, nn.InstanceNorm2d)) == instance_norms > 0


class _LayoutFlips(TorchDispatchMode):
    """Counts ops that take a channels_last 4-D tensor and return a 4-D one that is not: on a GPU each
    is a layout copy (here they show what would be)."""

    def __init__(self) -> None:
        super().__init__()
        self.flips: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))

        def spatial_4d(t):
            return isinstance(t, torch.Tensor) and t.dim() == 4 and t.shape[1] > 1 and t.shape[2] * t.shape[3] > 1

        inputs = [a for a in args if spatial_4d(a)]
        storages = {a.untyped_storage().data_ptr() for a in inputs}
        # Views (a GLU's halves) share their input's memory: no copy, whatever their strides.
        outputs = [o for o in (out if isinstance(out, (tuple, list)) else [out])
                   if spatial_4d(o) and o.untyped_storage().data_ptr() not in storages]
        if (any(a.is_contiguous(memory_format=torch.channels_last) and not a.is_contiguous() for a in inputs)
                and any(not o.is_contiguous(memory_format=torch.channels_last) for o in outputs)):
            self.flips.append(func.overloadpacket.__name__)
        return out


def test_channels_last_switch_gives_the_contiguous_outputs(prepared, tmp_path):
    config = OneGANConfig.preset("smoke", prepared.num_classes, prepared.num_parents).with_iterations(6)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, batch_size=4))
    outputs, flipped = {}, {}
    for name, switches in (("contiguous", {"channels_last": False}),
                           ("channels_last", {"channels_last": True}),
                           ("channels_last+fused", {"channels_last": True, "fused_layer_norm": True})):
        trainer = Trainer(config.with_performance(**switches), prepared, tmp_path / name, seed=2, progress=False)
        trainer.iteration = 4  # Phase II: all three paths
        trainer.step()  # through the clone into Phase II
        flips = _LayoutFlips()
        with flips:
            outputs[name] = trainer.step()
        flipped[name] = flips.flips
        if name == "channels_last":
            assert trainer.memory_format == torch.channels_last
            assert trainer.step_inputs(5).real.is_contiguous(memory_format=torch.channels_last)
    # GroupNorm's backward returns NCHW gradients for channels_last inputs (on a GPU its forward does
    # too); the fused LNorm flips nothing. The flips left (MSE's backward, and the element-wise ops
    # that meet its NCHW gradient) are listed in docs/performance-gpu.md.
    assert flipped["contiguous"] == []
    assert "native_group_norm_backward" in flipped["channels_last"]
    lnorm_ops = {"addcmul", "addcmul_", "var_mean", "rsqrt", "sum"}
    assert not lnorm_ops & set(flipped["channels_last+fused"])
    assert len(flipped["channels_last+fused"]) < len(flipped["channels_last"])
    for name in ("channels_last", "channels_last+fused"):
        for key, value in outputs["contiguous"].items():
            torch.testing.assert_close(outputs[name][key], value, rtol=1e-4, atol=1e-4,
                                       msg=lambda m, k=key, n=name: f"{n} {k}: {m}")
