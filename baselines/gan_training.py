"""Bookkeeping shared by the trainable GAN baselines: seeding, devices, atomic checkpoints, the
resumable iteration loop (tqdm progress, JSON-lines loss log, wall-time cap).

A baseline's ``train`` runs one or more *phases* (the GAN, then the encoders); each phase is a loop
``for iteration in range(done, total): losses = step(iteration)`` that appends a loss record every
``log_every`` iterations and saves a checkpoint every ``checkpoint_every`` iterations, at the end,
and when the deadline passes. The checkpoint stores the completed iteration count of every phase,
so a rerun continues where the last saved one stopped.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from core.atomic import append_jsonl, atomic_path, read_jsonl
from core.checkpoint_file import MethodCheckpointError, load_method_checkpoint
from core.tensorboard_log import RunBoard

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "losses.jsonl"


class CheckpointError(MethodCheckpointError):
    """A checkpoint file is missing, unreadable or belongs to another method/config."""


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a CPU generator for the training stream (batches, codes)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """torch.save through an atomic rename: a crash leaves the previous checkpoint intact."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path, method: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` for ``method`` (data only; clear errors otherwise)."""
    return load_method_checkpoint(
        path, method, checkpoint_name=CHECKPOINT_NAME, error=CheckpointError, map_location=map_location,
        missing="{method} checkpoint not found: {path} (train it first)",
        unreadable="cannot read {method} checkpoint {path}: {err}",
        not_method="{path} is not a {method} checkpoint (it holds {found!r})")


def check_resumable(saved: dict[str, Any], wanted: dict[str, Any], schedule_keys: set[str], path: Path) -> None:
    """A run may resume with other iteration counts/cadences, but not with another architecture."""
    differing = sorted(k for k in set(saved) | set(wanted)
                       if k not in schedule_keys and saved.get(k) != wanted.get(k))
    if differing:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {wanted.get(k)!r}" for k in differing)
        raise CheckpointError(f"{path} was trained with another configuration ({details}); "
                              "resume with the same preset or start afresh (resume=False / new --out)")


def restore_or_reset(out: Path, *, resume: bool, method: str, wanted_config: dict[str, Any],
                     schedule_keys: set[str], fingerprint: str,
                     map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint in ``out`` to resume from, or None for a fresh start (then an old loss log
    is removed so the log describes this run only). Refuses a checkpoint of another config or data."""
    checkpoint = out / CHECKPOINT_NAME
    if resume and checkpoint.exists():
        state = load_checkpoint(checkpoint, method, map_location=map_location)
        check_resumable(state["config"], wanted_config, schedule_keys, checkpoint)
        if state["meta"]["fingerprint"] != fingerprint:
            raise CheckpointError(f"{checkpoint} was trained on other data (fingerprint "
                                  f"{state['meta']['fingerprint']}, now {fingerprint}); use another --out")
        return state
    if (out / LOG_NAME).exists():
        (out / LOG_NAME).unlink()
    return None


class CheckpointSaver:
    """``saver()`` writes ``run.state_dict()`` atomically and adds the wall time since the last save
    to ``run.seconds`` (training time summed over resumptions)."""

    def __init__(self, path: Path, run: Any) -> None:
        self.path, self.run = path, run
        self.last = time.monotonic()

    def __call__(self) -> None:
        now = time.monotonic()
        self.run.seconds += now - self.last
        self.last = now
        save_checkpoint(self.path, self.run.state_dict())


class Deadline:
    """Wall-time cap (``TrainRequest.max_minutes``); ``None`` never expires."""

    def __init__(self, max_minutes: float | None, start: float | None = None) -> None:
        self.start = time.monotonic() if start is None else start
        self.end = None if max_minutes is None else self.start + 60.0 * max_minutes

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    def split(self, fraction: float) -> Deadline:
        """A deadline at ``fraction`` of the remaining time (so a later phase keeps the rest)."""
        sub = Deadline(None)
        if self.end is not None:
            now = time.monotonic()
            sub.end = now + fraction * max(self.end - now, 0.0)
        return sub


@dataclass
class PhaseResult:
    iterations_done: int
    stopped_early: bool


def run_phase(*, phase: str, done: int, total: int, step: Callable[[int], dict[str, float]],
              save: Callable[[], None], log_path: Path, log_every: int, checkpoint_every: int,
              deadline: Deadline, on_iteration: Callable[[int], None]) -> PhaseResult:
    """Run ``step(iteration)`` for iterations ``done .. total-1``.

    ``on_iteration(n)`` records that ``n`` iterations are complete (the caller keeps the count in the
    state that ``save`` writes). Losses are logged as JSON lines ``{"phase", "iteration", ...}``.
    """
    if done >= total:
        return PhaseResult(done, False)
    stopped_early = False
    saved_at = done
    board = RunBoard(log_path.parent, start_step=done, part=phase)  # TensorBoard: losses by name, it/s
    board.start_timing(done)
    with tqdm(total=total, initial=done, desc=phase, unit="it", dynamic_ncols=True, leave=False) as bar:
        for iteration in range(done, total):
            started = time.monotonic()
            losses = step(iteration)
            completed = iteration + 1
            on_iteration(completed)
            bar.update(1)
            if completed % log_every == 0 or completed == total:
                record = {"phase": phase, "iteration": completed,
                          "seconds_per_iteration": round(time.monotonic() - started, 4)}
                record.update({k: round(float(v), 5) for k, v in losses.items()})
                append_jsonl(log_path, record)
                board.scalars(completed, losses)
                bar.set_postfix({k: f"{float(v):.3f}" for k, v in list(losses.items())[:4]})
            if completed % checkpoint_every == 0:
                save()
                saved_at = completed
            if deadline.expired() and completed < total:
                stopped_early = True
                break
    board.close()
    if saved_at != completed:
        save()
    return PhaseResult(completed, stopped_early)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def read_losses(out: str | Path) -> list[dict[str, Any]]:
    """The loss records of the run in ``out`` (one dict per logged iteration)."""
    return read_jsonl(Path(out) / LOG_NAME)
