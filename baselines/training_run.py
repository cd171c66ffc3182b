"""The resumable training loop shared by the baselines trained here (IIC, IIC-seg, ReDO, k-means).

A run is a number of steps; every ``checkpoint_every`` steps, when ``max_minutes`` runs out and at the
end, the whole state (networks, optimisers, step, RNG) is written atomically to
``<out>/checkpoint.pt``. A rerun with ``resume`` continues from there; a finished checkpoint is
returned at once. Each method supplies two callables: ``step(i) -> dict of losses`` and
``state() -> dict`` (what to save); the loop owns progress display, time budget and saving.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm import tqdm

from baselines.gan_training import (  # noqa: F401 - re-exported for the trainers
    CHECKPOINT_NAME,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
    seed_everything,
)
from core.errors import UserError
from core.provenance import git_commit
from core.tensorboard_log import RunBoard

PresetT = TypeVar("PresetT")


def choose_preset(presets: dict[str, PresetT], name: str, method: str) -> PresetT:
    if name not in presets:
        raise UserError(f"{method}: unknown preset {name!r}; choose one of {sorted(presets)}")
    return presets[name]


# One implementation of seeding, devices and checkpoint files for every baseline trainer.
pick_device = resolve_device


def read_checkpoint(path: str | Path, method: str) -> dict[str, Any]:
    return load_checkpoint(path, method, map_location="cpu")


@dataclass
class RunState:
    """What every checkpoint carries besides the method's own state."""

    method: str
    preset: str
    config: dict
    seed: int
    num_classes: int
    num_parents: int
    data_fingerprint: str
    step: int = 0
    complete: bool = False
    elapsed_s: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)

    def restore(self, payload: dict[str, Any] | None) -> None:
        """Continue the counters of a saved run (and the RNG stream, so a resumed run draws what an
        uninterrupted one would have)."""
        if payload is None:
            return
        self.step, self.complete = int(payload["step"]), bool(payload["complete"])
        self.elapsed_s, self.losses = float(payload["elapsed_s"]), dict(payload["losses"])
        if "rng" in payload:
            torch.set_rng_state(payload["rng"])

    def header(self) -> dict[str, Any]:
        return {**asdict(self), "git_commit": git_commit()}


def resume_payload(out: Path, resume: bool, run: RunState) -> dict[str, Any] | None:
    """The saved payload to continue from, or None to start afresh. Refuses to mix runs whose
    configuration or data differ from the requested one."""
    path = out / CHECKPOINT_NAME
    if not (resume and path.is_file()):
        return None
    payload = read_checkpoint(path, run.method)
    for key in ("config", "data_fingerprint", "seed"):
        if payload[key] != getattr(run, key):
            raise UserError(f"{path} was trained with a different {key} ({payload[key]!r} != "
                            f"{getattr(run, key)!r}); use another --out or disable resume")
    return payload


def run_training(run: RunState, *, out: Path, total_steps: int, step: Callable[[int], dict[str, float]],
                 state: Callable[[], dict[str, Any]], checkpoint_every: int,
                 max_minutes: float | None) -> Path:
    """Run ``step`` from ``run.step`` to ``total_steps``, checkpointing; returns the checkpoint path."""
    path = out / CHECKPOINT_NAME
    start = time.monotonic()
    elapsed_before = run.elapsed_s

    def save(complete: bool) -> None:
        run.complete = complete
        run.elapsed_s = elapsed_before + time.monotonic() - start
        save_checkpoint(path, {**run.header(), **state(), "rng": torch.get_rng_state()})

    if run.complete or run.step >= total_steps:
        if not run.complete:
            save(True)
        return path
    bar = tqdm(range(run.step, total_steps), desc=run.method, initial=run.step, total=total_steps,
               leave=False, mininterval=2.0)
    board = RunBoard(out, start_step=run.step)  # TensorBoard: the losses every 10 steps, it/s
    board.start_timing(run.step)
    for i in bar:
        losses = step(i)
        run.step = i + 1
        run.losses = {k: round(float(v), 5) for k, v in losses.items()}
        if i % 10 == 0:
            bar.set_postfix(run.losses, refresh=False)
            board.scalars(run.step, run.losses)
        out_of_time = max_minutes is not None and time.monotonic() - start > 60.0 * max_minutes
        if out_of_time:
            bar.close()
            board.close()
            save(False)
            return path
        if run.step % checkpoint_every == 0 and run.step < total_steps:
            save(False)
    bar.close()
    board.close()
    save(True)
    return path


