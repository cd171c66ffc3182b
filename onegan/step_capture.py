"""The training step captured once per phase as a CUDA graph and replayed (``PerformanceConfig.cuda_graphs``).

At the ``paper`` scale a Phase II step launches about 5,000 kernels, and an H100 waits for the host
that launches them (``results/studies/speed/profile_onegan_step_h100.txt``: kernels 0.17 s of a 0.29 s step). Within
a phase every shape is fixed, so the whole step (forwards, backwards, optimiser steps) can be recorded
once as a CUDA graph and replayed with one launch.

What may not change is what the step computes, in particular the keyed random draws
(``onegan.draws``): iteration t's φ_c, z, β's, ε and nuisances come from a CPU generator seeded by
(seed, t), so a run resumes exactly and W processes train the one-process model. A graph replays
kernels, not Python, so no draw may happen inside it. The step is therefore split in two
(``Trainer.step_inputs`` / ``Trainer.compute_step``) and:

1. The first step of a phase runs eagerly (the plain step) with a ``RecordingDraws`` that notes the
   order, kind and shape of every draw made during the forward pass: the phase's ``DrawPlan``.
2. Every later step makes iteration t's draws on the host, in the plan's order from the same keyed
   generator (so the same values as the plain step, bit for bit: ``draw_values``), and copies them,
   with the real batch, φ_c, φ_p and z, into static buffers; ``ReplayDraws`` hands the buffers to
   the forward pass in the same order.
3. On CUDA, ``warmup_steps`` steps run eagerly on the static buffers on a side stream, then one is
   captured and every later step of the phase is a copy into the buffers and a replay.

Without capture (``CapturedStep(trainer, capture=False)``, the only mode a CPU can run) steps 1-2 run
with eager compute on the static buffers: the graph-ready step, which tests compare with the plain
step bit for bit. A divergence (a loss not finite) is detected after the step, not before its
optimiser step as in the plain path: the run stops with the same error, and the checkpoint on disk is
the last good one either way. Multi-process training is not captured (its collectives and their
divergence flag need the host).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch

from core.errors import UserError
from onegan.config import ModelConfig
from onegan.draws import GlobalBatchDraws
from onegan.mixup import MixupWeights

if TYPE_CHECKING:
    from onegan.config import OneGANConfig
    from onegan.distributed import ProcessGroup
    from onegan.schedule import PhaseSchedule


class Trainer(Protocol):
    """What a captured step needs of ``onegan.trainer.Trainer``, named by its shape so that this module
    does not import the trainer that uses it."""

    config: OneGANConfig
    device: torch.device
    group: ProcessGroup
    iteration: int
    schedule: PhaseSchedule

    def step_inputs(self, t: int) -> StepInputs: ...

    def compute_step(self, inputs: StepInputs, defer_finite_check: bool = False
                     ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]: ...

    def _diverged(self, named: dict[str, torch.Tensor]) -> Exception: ...


def check_capturable(device: torch.device, group: ProcessGroup) -> None:
    """A one-line UserError unless a CUDA graph can capture the step here."""
    if device.type != "cuda":
        raise UserError(f"cuda_graphs needs a CUDA device, the run is on {device}; switch it off there")
    if group.distributed:
        raise UserError("cuda_graphs captures single-process training only; switch it off under torchrun")


def set_capturable(optimizer: torch.optim.Optimizer, capturable: bool) -> None:
    """Make ``optimizer`` (Adam) capturable by a CUDA graph or not, whatever the checkpoint it was
    loaded from said (``load_state_dict`` restores the saved flag): a captured step needs it on and
    its step counts on the parameters' device; a CPU run cannot have it on."""
    for group in optimizer.param_groups:
        group["capturable"] = capturable
        if not capturable:
            continue
        for parameter in group["params"]:
            state = optimizer.state.get(parameter, {})
            if torch.is_tensor(state.get("step")):
                state["step"] = state["step"].to(dtype=torch.float32, device=parameter.device)


@dataclass(frozen=True)
class Draw:
    """One draw of the forward pass: ``kind`` is the ``GlobalBatchDraws`` method, ``shape`` the
    per-sample shape (randn, rand), ``dtype`` the dtype asked for by ``randn_like``."""

    kind: str
    shape: tuple[int, ...] = ()
    dtype: torch.dtype | None = None


DrawPlan = tuple[Draw, ...]


class RecordingDraws:
    """``GlobalBatchDraws`` that also notes each draw made (the plan of a phase)."""

    def __init__(self, draws: GlobalBatchDraws) -> None:
        self.draws = draws
        self.plan: list[Draw] = []

    def randn(self, *shape: int) -> torch.Tensor:
        self.plan.append(Draw("randn", tuple(shape)))
        return self.draws.randn(*shape)

    def rand(self, *shape: int) -> torch.Tensor:
        self.plan.append(Draw("rand", tuple(shape)))
        return self.draws.rand(*shape)

    def randn_like(self, like: torch.Tensor) -> torch.Tensor:
        self.plan.append(Draw("randn_like", tuple(like.shape[1:]), like.dtype))
        return self.draws.randn_like(like)

    def mixup_weights(self, config: ModelConfig) -> MixupWeights:
        self.plan.append(Draw("mixup_weights"))
        return self.draws.mixup_weights(config)


def draw_values(plan: DrawPlan, draws: GlobalBatchDraws, config: ModelConfig) -> list[torch.Tensor]:
    """The values the plain step's forward pass would draw from ``draws``, in the plan's order (a
    mixup draw gives its four β's): the same generator calls, so the same values."""
    values: list[torch.Tensor] = []
    for draw in plan:
        if draw.kind == "mixup_weights":
            values.extend(draws.mixup_weights(config))
        elif draw.kind == "randn_like":
            values.append(draws.randn(*draw.shape).to(draw.dtype))  # GlobalBatchDraws.randn_like's
        else:
            values.append(getattr(draws, draw.kind)(*draw.shape))
    return values


class ReplayDraws:
    """Hands the forward pass the static buffers of a plan, in order; a draw other than the plan's
    is an error (the step would silently use other randomness)."""

    def __init__(self, plan: DrawPlan, buffers: list[torch.Tensor]) -> None:
        self.plan, self.buffers = plan, buffers
        self._draw = self._buffer = 0

    def _next(self, kind: str, shape: tuple[int, ...] = (), dtype: torch.dtype | None = None) -> Draw:
        if self._draw >= len(self.plan):
            raise RuntimeError(f"the step drew {kind}{shape} beyond its recorded plan of {len(self.plan)} draws")
        draw = self.plan[self._draw]
        if draw.kind != kind or (kind != "mixup_weights" and (draw.shape, draw.dtype) != (shape, dtype)):
            raise RuntimeError(f"draw {self._draw} of the step is {kind}{shape}, its plan says {draw}")
        self._draw += 1
        return draw

    def _take(self, count: int) -> list[torch.Tensor]:
        taken = self.buffers[self._buffer:self._buffer + count]
        self._buffer += count
        return taken

    def randn(self, *shape: int) -> torch.Tensor:
        self._next("randn", tuple(shape))
        return self._take(1)[0]

    def rand(self, *shape: int) -> torch.Tensor:
        self._next("rand", tuple(shape))
        return self._take(1)[0]

    def randn_like(self, like: torch.Tensor) -> torch.Tensor:
        self._next("randn_like", tuple(like.shape[1:]), like.dtype)
        return self._take(1)[0]

    def mixup_weights(self, config: ModelConfig) -> MixupWeights:
        self._next("mixup_weights")
        return MixupWeights(*self._take(4))


def _fill(buffers: list[torch.Tensor] | None, values: list[torch.Tensor]) -> list[torch.Tensor]:
    """Copy ``values`` into ``buffers`` (allocated, with the values' strides, on first use)."""
    if buffers is None:
        return [value.clone() for value in values]
    for buffer, value in zip(buffers, values, strict=True):
        buffer.copy_(value, non_blocking=True)
    return buffers



@dataclass
class StepInputs:
    """What one iteration takes from outside the networks (``Trainer.step_inputs``): the real batch
    (object images I and background images), the keyed draws φ_c (``child``, with its parent φ_p) and
    z, and ``draws``, the source of the draws made during the forward pass (β's, ε, nuisances)."""

    iteration: int
    paths: tuple[str, ...]
    real: torch.Tensor
    real_bg: torch.Tensor
    child: torch.Tensor
    parent: torch.Tensor
    z: torch.Tensor
    draws: GlobalBatchDraws | RecordingDraws | ReplayDraws


class CapturedStep:
    """Runs ``trainer``'s steps as described in the module docstring; ``capture=False`` is the
    graph-ready step without a graph (any device)."""

    def __init__(self, trainer: Trainer, capture: bool = True, warmup_steps: int = 2) -> None:
        if capture:
            check_capturable(trainer.device, trainer.group)
        self.trainer, self.capture, self.warmup_steps = trainer, capture, warmup_steps
        self._reset(None)

    def _reset(self, paths: tuple[str, ...] | None) -> None:
        """A new phase: a new plan, buffers and graph (the previous graph's memory is released)."""
        self.paths = paths
        self.plan: DrawPlan | None = None
        self.inputs: list[torch.Tensor] | None = None   # real, real_bg, child, parent, z
        self.draw_buffers: list[torch.Tensor] | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.outputs: tuple[dict[str, torch.Tensor], torch.Tensor] | None = None
        self.eager_steps = 0

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def step(self) -> dict[str, torch.Tensor]:
        trainer = self.trainer
        if trainer.schedule.clones_discriminators_at(trainer.iteration):
            # The clone gives the path optimisers new state tensors: no graph may keep the old ones.
            self._reset(None)
        inputs = trainer.step_inputs(trainer.iteration)
        if inputs.paths != self.paths:
            self._reset(inputs.paths)
        if self.plan is None:
            named = self._recording_step(inputs)
        else:
            named, nonfinite = self._static_step(inputs)
            if bool(nonfinite):  # one host sync per step: read after the step's kernels ran
                raise trainer._diverged(named)
        trainer.iteration += 1
        # Clones: a replay overwrites the graph's outputs in place.
        return {k: v.detach().clone() for k, v in named.items()}

    def _recording_step(self, inputs: StepInputs) -> dict[str, torch.Tensor]:
        recording = RecordingDraws(inputs.draws)
        inputs.draws = recording
        named, _ = self.trainer.compute_step(inputs)
        self.plan = tuple(recording.plan)
        return named

    def _static_inputs(self, inputs: StepInputs) -> StepInputs:
        """``inputs`` with every tensor copied into this phase's static buffers."""
        assert self.plan is not None
        values = draw_values(self.plan, inputs.draws, self.trainer.config.model)
        self.inputs = _fill(self.inputs, [inputs.real, inputs.real_bg, inputs.child, inputs.parent, inputs.z])
        self.draw_buffers = _fill(self.draw_buffers, values)
        real, real_bg, child, parent, z = self.inputs
        return dataclasses.replace(inputs, real=real, real_bg=real_bg, child=child, parent=parent, z=z,
                                   draws=ReplayDraws(self.plan, self.draw_buffers))

    def _static_step(self, inputs: StepInputs) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        static = self._static_inputs(inputs)
        trainer = self.trainer
        if not self.capture:
            return trainer.compute_step(static, defer_finite_check=True)  # type: ignore[return-value]
        if self.graph is not None:
            self.graph.replay()
            assert self.outputs is not None
            return self.outputs
        if self.eager_steps < self.warmup_steps:
            # Warm-up on a side stream (PyTorch's recipe): cuDNN/cuBLAS choose algorithms and the
            # allocator settles before the capture; these are real training steps.
            self.eager_steps += 1
            side = torch.cuda.Stream(trainer.device)
            side.wait_stream(torch.cuda.current_stream(trainer.device))
            with torch.cuda.stream(side):
                outputs = trainer.compute_step(static, defer_finite_check=True)
            torch.cuda.current_stream(trainer.device).wait_stream(side)
            return outputs  # type: ignore[return-value]
        # Capture records the kernels without running them; the replay then runs this step.
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = trainer.compute_step(static, defer_finite_check=True)  # type: ignore[assignment]
        self.graph.replay()
        return self.outputs  # type: ignore[return-value]
