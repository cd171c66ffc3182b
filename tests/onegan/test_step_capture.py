"""The graph-ready step (onegan/step_capture.py) against the plain step, on CPU where no graph exists:
the same draws and the same losses and weights bit for bit, through every phase; a forward pass that
draws, waits for the device or makes data-dependent shapes inside the region a graph would capture
is caught by watching the ops it dispatches."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from core.errors import UserError
from onegan.config import OneGANConfig
from onegan.draws import GlobalBatchDraws
from onegan.step_capture import CapturedStep, Draw, RecordingDraws, ReplayDraws, draw_values
from onegan.trainer import Trainer

ITERATIONS = 9  # fake reconstruction from 3, real from 6: three steps in each of the three phases


NC, NP = 4, 2  # the prepared fixture's classes and parents


def _config(preset: str) -> OneGANConfig:
    config = OneGANConfig.preset(preset, NC, NP).with_iterations(ITERATIONS)
    return dataclasses.replace(config, train=dataclasses.replace(config.train, batch_size=4))


@pytest.mark.parametrize("preset", ["smoke", "tiny"])  # tiny adds the nuisance draws of the forward pass
def test_graph_ready_step_equals_the_plain_step_bit_for_bit(preset, prepared, tmp_path):
    config = _config(preset)
    plain = Trainer(config, prepared, tmp_path / "plain", seed=3, progress=False)
    ready = Trainer(config, prepared, tmp_path / "ready", seed=3, progress=False)
    ready.captured_step = CapturedStep(ready, capture=False)
    phases = set()
    for t in range(ITERATIONS):
        plain_losses, ready_losses = plain.step(), ready.step()
        phases.add(len(ready.captured_step.paths))
        assert plain_losses.keys() == ready_losses.keys()
        for name, value in plain_losses.items():
            assert torch.equal(value, ready_losses[name]), f"iteration {t}: {name} differs"
        if ready.captured_step.draw_buffers is not None and t % 3:
            # The static buffers hold exactly the plain step's draws of this iteration.
            live = GlobalBatchDraws(3, t, 0, 4, 1)
            _, _, child, _, z = ready.captured_step.inputs
            assert torch.equal(live.randint(NC), child) and torch.equal(live.randn(config.model.z_dim), z)
            expected = draw_values(ready.captured_step.plan, live, config.model)
            assert len(expected) == len(ready.captured_step.draw_buffers) >= (4 if t >= 3 else 0)
            for a, b in zip(expected, ready.captured_step.draw_buffers, strict=True):
                assert torch.equal(a, b)
    assert phases == {1, 2, 3}
    for name, value in plain.model.state_dict().items():
        assert torch.equal(value, ready.model.state_dict()[name]), name
    for name, value in plain.discriminators.state_dict().items():
        assert torch.equal(value, ready.discriminators.state_dict()[name]), name
    initial = Trainer(config, prepared, tmp_path / "initial", seed=3, progress=False)
    assert not torch.equal(initial.model.state_dict()["embeddings.child.weight"],
                           ready.model.state_dict()["embeddings.child.weight"])


def test_draw_plan_reproduces_the_generators_sequence():
    config = _config("smoke").model
    recording = RecordingDraws(GlobalBatchDraws(0, 5, 1, 3, 2))
    recorded = [recording.randn(4), *recording.mixup_weights(config), recording.randn_like(torch.zeros(3, 2, 2)),
                recording.rand(5), recording.randn_like(torch.zeros(3, 7, dtype=torch.bfloat16))]
    assert recording.plan[0] == Draw("randn", (4,)) and recording.plan[-1] == Draw("randn_like", (7,), torch.bfloat16)
    again = draw_values(tuple(recording.plan), GlobalBatchDraws(0, 5, 1, 3, 2), config)
    assert [v.dtype for v in again][-1] == torch.bfloat16
    for a, b in zip(recorded, again, strict=True):
        assert torch.equal(a, b)
    # Another iteration's draws differ (the comparison above is not between constants).
    assert not torch.equal(again[0], draw_values(tuple(recording.plan), GlobalBatchDraws(0, 6, 1, 3, 2), config)[0])


def test_replay_refuses_a_draw_outside_its_plan():
    replay = ReplayDraws((Draw("randn", (4,)),), [torch.zeros(2, 4)])
    with pytest.raises(RuntimeError, match="draw 0 of the step is rand"):
        replay.rand(4)
    replay = ReplayDraws((Draw("randn", (4,)),), [torch.zeros(2, 4)])
    assert replay.randn(4).shape == (2, 4)
    with pytest.raises(RuntimeError, match="beyond its recorded plan"):
        replay.randn(4)


class _CaptureHazards(TorchDispatchMode):
    """Records ops a CUDA graph cannot hold: random draws (not keyed, not replayed with new values),
    host reads of device values (``.item()``, ``bool()``: a sync, illegal while capturing), ops whose
    output shape depends on values, and tensors made from host data (a pageable copy)."""

    HAZARDS = ("rand", "normal", "bernoulli", "uniform", "multinomial", "_local_scalar_dense", "nonzero",
               "masked_select", "unique", "lift_fresh", "repeat_interleave")

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if any(hazard in name for hazard in self.HAZARDS):
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("preset", ["smoke", "tiny"])
def test_the_region_a_graph_captures_draws_and_syncs_nothing(preset, prepared, tmp_path):
    trainer = Trainer(_config(preset), prepared, tmp_path / "run", seed=0, progress=False)
    trainer.captured_step = CapturedStep(trainer, capture=False)
    trainer.captured_step.step()  # records iteration 0's plan
    trainer.iteration = 6        # Phase II with both reconstruction paths: every draw and network
    trainer.captured_step.step()  # records that phase's plan
    static = trainer.captured_step._static_inputs(trainer.step_inputs(7))
    watch = _CaptureHazards()
    with watch:
        named, nonfinite = trainer.compute_step(static, defer_finite_check=True)
    assert watch.seen == [], f"ops a CUDA graph cannot capture: {sorted(set(watch.seen))}"
    assert static.draws._draw == len(trainer.captured_step.plan) > 0  # every planned draw was used
    assert nonfinite is not None and nonfinite.item() == 0 and "real/L_AE" in named
    # The watch sees hazards when they are there: the plain step's live draws and its finite check.
    trainer.iteration = 7
    watch = _CaptureHazards()
    with watch:
        trainer.compute_step(trainer.step_inputs(7))
    assert "_local_scalar_dense" in watch.seen


def test_cuda_graphs_refuse_a_cpu_run_in_one_line(prepared, tmp_path):
    config = _config("smoke").with_performance(cuda_graphs=True)
    with pytest.raises(UserError, match="^cuda_graphs needs a CUDA device, the run is on cpu; switch it off there$"):
        Trainer(config, prepared, tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="unknown performance switch 'graphs'"):
        _config("smoke").with_performance(graphs=True)
