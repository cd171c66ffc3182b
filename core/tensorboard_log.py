"""TensorBoard event files of one training run (``tensorboard --logdir RUNS``), written by the
trainers beside their checkpoints at ``log_every`` / ``sample_every``.

- scalars ``loss/<name>``: every loss by the name the trainer logs (OneGAN's are the paper's:
  ``gen/L_D``, ``real/L_REC``, ``L_total``, ...), ``speed/it_per_s`` (iterations per second since the
  previous log) and ``phase`` (OneGAN's §4.3 phase, 1 or 2); the two-phase baselines (FineGAN∗,
  StackGANv2∗: GAN, then encoders) write each phase into its own folder ``tensorboard/<phase>``;
- images ``samples/<name>``: the trainer's sample grids (OneGAN: Fig. 3 generation rows per child code
  with foreground, mask, background; Fig. 4 reconstruction rows with GT and predicted masks). The
  baselines hand their loop a ``SampleSheets`` (what to draw, every ``sample_every`` steps), which the
  loop draws through ``RunBoard.samples``: under ``no_grad``, with the drawn modules in eval mode and
  every global RNG state restored afterwards, so a run with images trains the weights one without
  them trains, bit for bit.

The writer is opened lazily (a run that never logs writes nothing) and only in the process that writes
the run's files; a resumed run purges events past its checkpoint's step (``purge_step``) so the curves
do not double back. ``tensorboard`` is a dependency of the project; events are small (a few KB per log).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

EVENTS_DIR = "tensorboard"


@dataclass(frozen=True)
class SampleSheets:
    """What a trainer shows in TensorBoard every ``every`` completed steps (and at the last one; 0:
    never): ``draw()`` returns {name: grid (C, H, W) in [0, 1]} (``image_rows`` builds one), drawn with
    ``modules`` in eval mode. The method supplies only this; the loop decides when and draws it
    through ``RunBoard.samples``. Fixed inputs (noise, images) come from the method's own seeded
    ``torch.Generator``, never the global RNG."""

    every: int
    draw: Callable[[], Mapping[str, torch.Tensor]]
    modules: tuple[torch.nn.Module, ...] = ()

    def due(self, completed: int, total: int) -> bool:
        return self.every > 0 and (completed % self.every == 0 or completed == total)


@contextmanager
def untouched_training_state(modules: Sequence[torch.nn.Module] = ()) -> Iterator[None]:
    """Run a block under ``no_grad`` with ``modules`` in eval mode, then put back every submodule's
    train/eval flag and the python, numpy, torch CPU and CUDA RNG states, so that whatever the block
    draws or computes, the training that follows is the one that would have run without it (eval mode
    also keeps BatchNorm statistics and spectral-norm vectors as they are)."""
    flags = [(m, m.training) for module in modules for m in module.modules()]
    python_state, numpy_state = random.getstate(), np.random.get_state()
    cpu_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        for module in modules:
            module.eval()
        with torch.no_grad():
            yield
    finally:
        for m, training in flags:
            m.training = training
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def image_rows(rows: Sequence[torch.Tensor], padding: int = 1) -> torch.Tensor:
    """One grid (3, H', W') of equally long rows of images (n, 1 or 3, H, W) in [0, 1], one row each
    (a mask's single channel is shown grey)."""
    from torchvision.utils import make_grid

    columns = rows[0].shape[0]
    if any(row.shape[0] != columns for row in rows):
        raise ValueError(f"every row needs {columns} images; got {[row.shape[0] for row in rows]}")
    images = torch.cat([row.detach().float().cpu().expand(-1, 3, -1, -1) for row in rows])
    return make_grid(images.clamp(0, 1), nrow=columns, padding=padding)


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

    def samples(self, step: int, sheets: SampleSheets) -> None:
        """Draw ``sheets`` (see ``untouched_training_state``) and write each grid as ``samples/<name>``."""
        if not self.enabled:
            return
        with untouched_training_state(sheets.modules):
            grids = dict(sheets.draw())
        for name, grid in grids.items():
            self.image_grid(step, name, grid)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
