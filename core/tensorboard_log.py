"""TensorBoard event files of one training run (``tensorboard --logdir RUNS``), written by the
trainers beside their checkpoints at ``log_every`` / ``sample_every``.

- scalars ``loss/<name>``: every loss by the name the trainer logs (OneGAN's are the paper's:
  ``gen/L_D``, ``real/L_REC``, ``L_total``, ...), ``speed/it_per_s`` (iterations per second since the
  previous log) and ``phase`` (OneGAN's §4.3 phase, 1 or 2); the two-phase baselines (FineGAN∗,
  StackGANv2∗: GAN, then encoders) write each phase into its own folder ``tensorboard/<phase>``;
- images ``samples/<name>``: the trainer's sample grids (OneGAN: Fig. 3 generation rows per child code
  with foreground, mask, background; Fig. 4 reconstruction rows with GT and predicted masks).

The writer is opened lazily (a run that never logs writes nothing) and only in the process that writes
the run's files; a resumed run purges events past its checkpoint's step (``purge_step``) so the curves
do not double back. ``tensorboard`` is a dependency of the project; events are small (a few KB per log).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path

import torch

EVENTS_DIR = "tensorboard"


class RunBoard:
    """The TensorBoard writer of the run in ``out`` (events in ``out/tensorboard``)."""

    def __init__(self, out: str | Path, *, start_step: int = 0, enabled: bool = True, part: str | None = None) -> None:
        # ``part``: a run of several loops whose steps restart (a GAN phase, then its encoders) gets one
        # event folder per loop, which TensorBoard shows as separate runs
        self.directory = Path(out) / EVENTS_DIR / (part or "")
        self.start_step = start_step
        self.enabled = enabled
        self._writer = None
        self._last: tuple[int, float] | None = None   # (step, wall time) of the previous scalars

    def _open(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            # events past the checkpoint (logged after it, before the run stopped) are dropped
            purge = self.start_step + 1 if self.start_step else None
            self._writer = SummaryWriter(str(self.directory), purge_step=purge)
        return self._writer

    def scalars(self, step: int, losses: Mapping[str, float], phase: int | None = None) -> None:
        """Losses (finite ones), it/s since the previous call (or the board's start) and the phase."""
        if not self.enabled:
            return
        writer = self._open()
        now = time.monotonic()
        for name, value in losses.items():
            value = float(value)
            if math.isfinite(value):
                writer.add_scalar(f"loss/{name}", value, step)
        if self._last is not None and step > self._last[0] and now > self._last[1]:
            writer.add_scalar("speed/it_per_s", (step - self._last[0]) / (now - self._last[1]), step)
        self._last = (step, now)
        if phase is not None:
            writer.add_scalar("phase", float(phase), step)

    def start_timing(self, step: int) -> None:
        """Time it/s from here (the start of a run or phase) to the first log."""
        self._last = (step, time.monotonic())

    def image_grid(self, step: int, name: str, grid: torch.Tensor) -> None:
        """One image (C, H, W) in [0, 1], e.g. ``torchvision.utils.make_grid`` of a sample sheet."""
        if self.enabled:
            self._open().add_image(f"samples/{name}", grid.detach().float().clamp(0, 1).cpu(), step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
