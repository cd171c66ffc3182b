"""Wall seconds per training step, for the speed scripts (``scripts/bench_onegan_*.py``,
``scripts/profile_onegan_step.py``): steps re-run at one iteration, so every timed step runs that
iteration's phase and paths, with a GPU synchronised around them so that its queued kernels count."""

from __future__ import annotations

import time

import torch

from onegan.trainer import Trainer


def synchronize(device: torch.device) -> None:
    """Wait for ``device``'s queued kernels (a CUDA step returns before they finish); no-op on CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_step(trainer: Trainer, iteration: int, steps: int) -> float:
    """Mean wall seconds of ``steps`` training steps, each run at ``iteration``."""
    synchronize(trainer.device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.iteration = iteration
        trainer.step()
    synchronize(trainer.device)
    return (time.perf_counter() - start) / steps
