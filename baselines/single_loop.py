"""The prologue every single-loop baseline's ``train`` shares (IIC, IIC-seg, ReDO, k-means): preset,
prepared data, run state, the run directory's resume/refuse/restart decision, seeding and device.

The order is part of the results: the checkpoint is read before ``seed_everything`` (reading draws
nothing), and the method builds its networks after it, so a run's initial weights depend on the seed
only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch

from core.contract import TrainRequest
from core.tensorboard_log import SampleSheets
from core.training_run import (
    RunState,
    choose_preset,
    pick_device,
    requested_checkpoint_minutes,
    resume_payload,
    run_training,
    seed_everything,
)
from data_prep.prepared import Prepared, load_prepared

ConfigT = TypeVar("ConfigT")


@dataclass
class RunStart(Generic[ConfigT]):
    config: ConfigT
    prepared: Prepared
    run: RunState
    payload: dict[str, Any] | None   # the checkpoint to continue from (None: a fresh run)
    device: torch.device
    out: Path
    checkpoint_minutes: float | None   # the wall-clock checkpoint cadence (None: by steps only)
    max_minutes: float | None          # the request's time budget

    def train(self, total_steps: int, step: Callable[[int], dict[str, float]], state: Callable[[], dict[str, Any]],
              checkpoint_every: int | None, samples: SampleSheets | None = None) -> Path:
        """The scaffold's loop (``core.training_run.run_training``) for this run, with the request's time
        budget and checkpoint cadence; returns the checkpoint path. ``samples``: the method's TensorBoard
        image grids and their cadence (``baselines.sample_sheets``)."""
        return run_training(self.run, out=self.out, total_steps=total_steps, step=step, state=state,
                            checkpoint_every=checkpoint_every, max_minutes=self.max_minutes,
                            checkpoint_minutes=self.checkpoint_minutes, samples=samples)


def start_run(request: TrainRequest, presets: dict[str, ConfigT], method: str, *, seed: bool = True
              ) -> RunStart[ConfigT]:
    """Everything before the method builds its networks (see the module docstring). ``seed=False``
    for a method that draws from its own seeded generator only (k-means: scikit-learn's
    ``random_state``) and so leaves the global RNGs as it found them."""
    config = choose_preset(presets, request.preset, method)
    prepared = load_prepared(request.data)
    run = RunState(method, request.preset, asdict(config), request.seed, prepared.num_classes,
                   prepared.num_parents, prepared.fingerprint)
    out = Path(request.out)
    payload = resume_payload(out, request.resume, run, restart=getattr(request, "restart", False))
    if seed:
        seed_everything(request.seed)
    return RunStart(config, prepared, run, payload, pick_device(request.device), out,
                    requested_checkpoint_minutes(request), request.max_minutes)
