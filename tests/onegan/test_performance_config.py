"""PerformanceConfig (the GPU step's switches): serialised with the config, absent from older configs,
and ignored when a run resumes, since the switches change float rounding only."""

from __future__ import annotations

import pytest
import torch

from core.errors import UserError
from onegan.config import OneGANConfig, PerformanceConfig
from onegan.networks.layer_norm import FusedLayerNorm
from onegan.trainer import Trainer


def test_switches_round_trip_and_older_configs_get_the_defaults():
    config = OneGANConfig.preset("smoke", 4, 2).with_performance(fused_layer_norm=True, channels_last=False)
    assert OneGANConfig.from_dict(config.to_dict()) == config
    assert config.performance == PerformanceConfig(fused_layer_norm=True, channels_last=False)
    legacy = config.to_dict()
    del legacy["performance"]
    assert OneGANConfig.from_dict(legacy).performance == PerformanceConfig()
    # What was measured to pay is on (channels_last, on CPU); the unmeasured GPU levers are off.
    assert PerformanceConfig() == PerformanceConfig(fused_layer_norm=False, channels_last=True, cuda_graphs=False,
                                                    overlap_gradient_reduction=False)
    with pytest.raises(UserError, match="unknown performance switch 'fast'"):
        config.with_performance(fast=True)


def test_a_run_resumes_under_other_switches(prepared, micro_config, tmp_path):
    config = micro_config(4)
    first = Trainer(config, prepared, tmp_path / "run", seed=0, progress=False)
    first.run(until=2)
    switched = config.with_performance(fused_layer_norm=True, channels_last=False)
    resumed = Trainer(switched, prepared, tmp_path / "run", seed=0, progress=False)
    assert resumed.resume() and resumed.iteration == 2
    assert any(isinstance(m, FusedLayerNorm) for m in resumed.model.modules())
    assert resumed.memory_format == torch.contiguous_format
    for key, value in first.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    resumed.run()
    assert resumed.iteration == 4


def test_a_checkpoint_of_a_captured_run_resumes_on_cpu(prepared, micro_config, tmp_path):
    """A run trained with cuda_graphs saved capturable Adam groups; loaded as they are, a CPU Adam's
    per-tensor loop (fast=False) refuses to step, so resume sets the flag from the switch."""
    from onegan.checkpoint import load_checkpoint, save_checkpoint

    config = micro_config(4)
    first = Trainer(config, prepared, tmp_path / "run", seed=0, progress=False, fast=False)
    first.run(until=2)
    state = load_checkpoint(first.checkpoint_path)
    for optimizer_state in (state["model_optimizer"], *state["discriminator_optimizers"].values()):
        for group in optimizer_state["param_groups"]:
            group["capturable"] = True
    save_checkpoint(first.checkpoint_path, state)
    resumed = Trainer(config, prepared, tmp_path / "run", seed=0, progress=False, fast=False)
    assert resumed.resume()
    assert all(not g["capturable"] for g in resumed.model_optimizer.param_groups)
    resumed.run()
    assert resumed.iteration == 4
