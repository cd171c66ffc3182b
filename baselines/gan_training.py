"""What the two-phase GAN baselines (FineGAN∗, StackGANv2∗) add to the training scaffold
(``core.training_run``): the configuration check on resume, the checkpoint saver that sums the
training time, and ``run_phase``, one phase of the run on ``core.training_run.run_loop``.

A baseline's ``train`` runs two *phases* (the GAN, then the encoders); each is a loop
``for iteration in range(done, total): losses = step(iteration)`` that appends a loss record every
``log_every`` iterations and saves a checkpoint every ``checkpoint_every`` iterations (and every
``checkpoint_minutes``), at the end, when the deadline passes and on a signal. The checkpoint stores
the completed iteration count of every phase, so a rerun continues where the last saved one stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.tensorboard_log import RunBoard, SampleSheets
from core.training_run import (  # noqa: F401 - CHECKPOINT_NAME, load_checkpoint ... re-exported for the baselines
    CHECKPOINT_NAME,
    DEFAULT_CHECKPOINT_MINUTES,
    CheckpointError,
    CheckpointPolicy,
    Deadline,
    LossLog,
    claim_run_dir,
    load_checkpoint,
    run_loop,
    save_checkpoint,
    seed_everything,
)
from core.training_run import LOSS_LOG as LOG_NAME


def check_resumable(saved: dict[str, Any], wanted: dict[str, Any], schedule_keys: set[str], path: Path) -> None:
    """A run may resume with other iteration counts/cadences, but not with another architecture."""
    differing = sorted(k for k in set(saved) | set(wanted)
                       if k not in schedule_keys and saved.get(k) != wanted.get(k))
    if differing:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {wanted.get(k)!r}" for k in differing)
        raise CheckpointError(f"{path} was trained with another configuration ({details}); "
                              "resume with the same preset, or --restart to start over, or use another --out")


def restore_or_reset(out: Path, *, resume: bool, method: str, wanted_config: dict[str, Any],
                     schedule_keys: set[str], fingerprint: str, restart: bool = False,
                     map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint in ``out`` to resume from, or None for a fresh start (``claim_run_dir`` refuses
    an existing run without ``resume``/``restart``). Refuses a checkpoint of another config or data.
    The loss log is cut back to the checkpoint's iterations (phase ``method`` counts GAN iterations,
    ``<method>-encoders`` encoder iterations), so no iteration is logged twice."""
    checkpoint = out / CHECKPOINT_NAME
    if not claim_run_dir(out, resume=resume, restart=restart):
        return None
    state = load_checkpoint(checkpoint, method, map_location=map_location)
    check_resumable(state["config"], wanted_config, schedule_keys, checkpoint)
    if state["meta"]["fingerprint"] != fingerprint:
        raise CheckpointError(f"{checkpoint} was trained on other data (fingerprint "
                              f"{state['meta']['fingerprint']}, now {fingerprint}); use another --out")
    done = {method: int(state["gan_iteration"]), f"{method}-encoders": int(state["encoder_iteration"])}
    LossLog(out / LOG_NAME).truncate(lambda r: r.get("iteration", 0) <= done.get(r.get("phase"), 0))
    return state


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


@dataclass
class PhaseResult:
    iterations_done: int
    stopped_early: bool


def run_phase(*, phase: str, done: int, total: int, step: Callable[[int], dict[str, float]],
              save: CheckpointSaver, log_path: Path, log_every: int, checkpoint_every: int,
              deadline: Deadline, on_iteration: Callable[[int], None],
              checkpoint_minutes: float | None = DEFAULT_CHECKPOINT_MINUTES,
              samples: SampleSheets | None = None) -> PhaseResult:
    """Run ``step(iteration)`` for iterations ``done .. total-1`` on the scaffold's loop.

    ``on_iteration(n)`` records that ``n`` iterations are complete (the caller keeps the count in the
    state that ``save`` writes). Losses are logged as JSON lines ``{"phase", "iteration", ...}``.
    ``samples``: image grids written to the phase's TensorBoard folder when ``samples.due`` (drawing
    them changes nothing that is trained).
    """
    log = LossLog(log_path)
    started = [0.0]
    board = RunBoard(log_path.parent, start_step=done, part=phase)  # TensorBoard: losses by name, it/s
    board.start_timing(done)

    def timed_step(iteration: int) -> dict[str, float]:
        started[0] = time.monotonic()
        return step(iteration)

    def after_step(completed: int, losses: dict[str, float]) -> dict[str, str] | None:
        on_iteration(completed)
        postfix = None
        if completed % log_every == 0 or completed == total:
            record = {"phase": phase, "iteration": completed,
                      "seconds_per_iteration": round(time.monotonic() - started[0], 4)}
            record.update({k: round(float(v), 5) for k, v in losses.items()})
            log.append(record)
            board.scalars(completed, losses)
            postfix = {k: f"{float(v):.3f}" for k, v in list(losses.items())[:4]}
        if samples is not None and samples.due(completed, total):
            board.samples(completed, samples)
        return postfix

    try:
        result = run_loop(what=phase, start=done, total=total, step=timed_step, save=lambda _done: save(),
                          checkpoint_path=save.path, policy=CheckpointPolicy(checkpoint_every, checkpoint_minutes),
                          deadline=deadline, after_step=after_step)
    finally:
        board.close()
    return PhaseResult(result.completed, result.stopped_early)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def read_losses(out: str | Path) -> list[dict[str, Any]]:
    """The loss records of the run in ``out`` (one dict per logged iteration)."""
    return LossLog(Path(out) / LOG_NAME).records()
