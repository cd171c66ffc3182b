"""The one training-run scaffold: every trainer of the suite (OneGAN, FineGAN∗/StackGANv2∗, IIC,
IIC-seg, ReDO, k-means and the evaluator classifier) runs through it.

A run directory ``<out>`` holds ``checkpoint.pt`` (the whole state, written atomically) and, for the
trainers that log, ``losses.jsonl``. What every trainer must get right the same way lives here:

- **run directories** (``claim_run_dir``): an existing run is resumed (``resume``), refused with one
  line (``RunExistsError``), or, with ``restart``, moved aside in one rename and then deleted;
- **the loop** (``run_loop``): ``step(i)`` for i in [start, total) with a tqdm bar, a wall-time budget
  (``Deadline``), checkpoints every N iterations and/or every M minutes (``CheckpointPolicy``; by
  default every ``DEFAULT_CHECKPOINT_MINUTES`` minutes of wall time whatever the iteration cadence) and
  deferred signals (below). Nothing in the loop draws random numbers, so when and how often it saves
  never changes what is trained;
- **checkpoints**: ``save_checkpoint`` (``torch.save`` through an atomic rename), ``load_checkpoint``
  (data only, one-line errors), ``CHECKPOINT_NAME``;
- **seeding and devices**: ``seed_everything``, ``pick_device`` (``core.device``, the suite's only one);
- **loss logs** (``LossLog``): JSON lines; ``truncate`` on resume drops the records written after the
  checkpoint, so no iteration is ever logged twice;
- **the single-loop API** of the simple baselines: ``RunState`` + ``resume_payload`` + ``run_training``
  (``run_training(run, out=, total_steps=, step=, state=, checkpoint_every=, max_minutes=)``).

The deferred-signal contract
----------------------------
While ``run_loop`` runs, ``DeferredSignals`` handles SIGTERM, SIGINT, SIGUSR1 and SIGUSR2
(``HANDLED_SIGNALS``; one the process ignores when the loop starts stays ignored). The handler only
records the signal. At the next step boundary the loop

1. writes a checkpoint at once (the trainer's ``save``);
2. prints one line to stderr: the signal, the checkpoint path and the iteration;
3. if a Python-level handler was installed for that signal before ours (e.g. submitit's SIGUSR2
   handler, which requeues the Slurm job), calls that previous handler with ``(signum, frame)``; when
   it returns, training goes on (that handler decided the signal was not a stop);
4. otherwise raises ``TrainingInterrupted`` (``signum``, ``checkpoint``, ``iteration``), which the
   ``bench`` CLI prints as one line, exiting with ``exit_status(err)`` = 128 + signum.

Python's own SIGINT handler (``signal.default_int_handler``) and an enclosing loop's handler do not
count as previous handlers. A second SIGINT while one is pending raises ``KeyboardInterrupt`` at once
(Ctrl-C twice: stop without saving more). Handlers are installed from the main thread only and the
previous ones are restored when the loop ends. A trainer whose step is long (the evaluator's epoch)
may poll ``signal_pending()`` inside it and raise ``StepAbandoned``: the loop then keeps the previous
checkpoint and says so. Under ``torchrun`` the ranks agree (``agree``) on the signal, the minute
cadence and the deadline, so every rank saves at the same step.

Names a launcher may rely on: ``HANDLED_SIGNALS``, ``DeferredSignals``, ``signal_pending``,
``TrainingInterrupted``, ``exit_status``, ``run_loop``, ``CHECKPOINT_NAME``.
"""

from __future__ import annotations

import inspect
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from tqdm import tqdm

from core.atomic import _fsync_dir, append_jsonl, atomic_path, read_jsonl
from core.checkpoint_file import MethodCheckpointError, load_method_checkpoint
from core.device import pick_device
from core.errors import TrainingInterrupted, UserError, exit_status
from core.provenance import git_commit
from core.tensorboard_log import RunBoard, SampleSheets

__all__ = [
    "CHECKPOINT_NAME", "DEFAULT_CHECKPOINT_MINUTES", "HANDLED_SIGNALS", "LOSS_LOG", "CheckpointError",
    "CheckpointPolicy", "Deadline", "DeferredSignals", "LoopResult", "LossLog", "RunExistsError", "RunState",
    "StepAbandoned", "TrainingInterrupted", "choose_preset", "claim_run_dir", "exit_status", "load_checkpoint",
    "pick_device", "read_checkpoint", "requested_checkpoint_minutes", "restore_modules", "resume_payload",
    "run_loop", "run_training", "save_checkpoint", "seed_everything", "signal_pending",
]

CHECKPOINT_NAME = "checkpoint.pt"
LOSS_LOG = "losses.jsonl"
# Wall-clock checkpoint cadence when none is given: at `paper` scale OneGAN's 5,000-iteration cadence
# is about 20 minutes of an H100, so a SIGKILL could lose that much; ten minutes bounds it.
DEFAULT_CHECKPOINT_MINUTES = 10.0
HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)

PresetT = TypeVar("PresetT")


# --------------------------------------------------------------------------------------------------
# Errors


class CheckpointError(MethodCheckpointError):
    """A checkpoint file is missing, unreadable or belongs to another method/config."""


class RunExistsError(UserError):
    """``out`` already holds a run and neither ``resume`` nor ``restart`` was asked for."""


class StepAbandoned(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by a step that stopped part-way because ``signal_pending()``; nothing of it is kept."""


# --------------------------------------------------------------------------------------------------
# Presets, seeds, checkpoint files


def choose_preset(presets: dict[str, PresetT], name: str, method: str) -> PresetT:
    if name not in presets:
        raise UserError(f"{method}: unknown preset {name!r}; choose one of {sorted(presets)}")
    return presets[name]


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a CPU generator for the training stream (batches, codes)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def save_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """torch.save through an atomic rename: a crash leaves the previous checkpoint intact."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path, method: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint written by ``save_checkpoint`` for ``method`` (data only; one-line errors otherwise)."""
    return load_method_checkpoint(
        path, method, checkpoint_name=CHECKPOINT_NAME, error=CheckpointError, map_location=map_location,
        missing="{method} checkpoint not found: {path} (train it first)",
        unreadable="cannot read {method} checkpoint {path}: {err}",
        not_method="{path} is not a {method} checkpoint (it holds {found!r})")


def read_checkpoint(path: str | Path, method: str) -> dict[str, Any]:
    return load_checkpoint(path, method, map_location="cpu")


def restore_modules(payload: Mapping[str, Any] | None, modules: Mapping[str, Any]) -> None:
    """``modules[key].load_state_dict(payload[key])`` for every key (networks, optimisers); no-op on None."""
    if payload is None:
        return
    for key, module in modules.items():
        module.load_state_dict(payload[key])


def requested_checkpoint_minutes(request: Any) -> float | None:
    """The wall-clock cadence a ``TrainRequest`` asks for: its ``checkpoint_minutes``, the default when
    None, never (None) when 0."""
    minutes = getattr(request, "checkpoint_minutes", None)
    if minutes is None:
        return DEFAULT_CHECKPOINT_MINUTES
    return None if minutes == 0 else float(minutes)


# --------------------------------------------------------------------------------------------------
# Run directories


def _holds_run(out: Path) -> bool:
    return (out / CHECKPOINT_NAME).exists() or (out / LOSS_LOG).exists()


def claim_run_dir(out: str | os.PathLike, *, resume: bool, restart: bool = False, command: str = "bench train"
                  ) -> bool:
    """Decide what happens to an existing run in ``out``; returns True when a checkpoint is to be resumed.

    ``restart``: the directory is renamed aside in one step (a reader sees the old run or none) and
    deleted, then recreated empty. Else an existing run (a checkpoint or a loss log) is resumed when
    ``resume``, and refused with one line (``RunExistsError``) when not: nothing is touched. A loss
    log without a checkpoint (a run killed before its first save) is removed when resuming: the run
    starts from iteration 0 and logs those iterations again.
    """
    out = Path(out)
    if restart:
        if out.exists() and any(out.iterdir()):
            aside = out.parent / f".{out.name}.restarted-{os.getpid()}-{time.time_ns()}"
            os.replace(out, aside)
            _fsync_dir(out.parent)
            shutil.rmtree(aside, ignore_errors=True)
            print(f"{out}: --restart: the previous run was removed; starting from iteration 0",
                  file=sys.stderr, flush=True)
        out.mkdir(parents=True, exist_ok=True)
        return False
    if not _holds_run(out):
        return False
    if not resume:
        held = ", ".join(name for name in (CHECKPOINT_NAME, LOSS_LOG) if (out / name).exists())
        raise RunExistsError(f"{out} already holds a training run ({held}); `{command} ... --resume` "
                             "continues it, `--restart` starts over (deleting it), or choose another --out")
    if not (out / CHECKPOINT_NAME).exists():
        # Killed before its first checkpoint: the log describes nothing that can be resumed.
        (out / LOSS_LOG).unlink()
        return False
    return True


# --------------------------------------------------------------------------------------------------
# Loss logs


class LossLog:
    """A JSON-lines loss log (one record per logged step, each with an iteration key)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        append_jsonl(self.path, record)

    def records(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path)

    def truncate(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Keep only the records ``keep`` accepts (those up to the checkpoint being resumed): what a
        killed run logged after its last checkpoint is logged again by the resumed run."""
        if not self.path.exists():
            return
        records = read_jsonl(self.path)
        kept = [r for r in records if keep(r)]
        if len(kept) != len(records):
            with atomic_path(self.path) as tmp:
                tmp.write_text("".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in kept))


# --------------------------------------------------------------------------------------------------
# Signals


_ACTIVE: list[DeferredSignals] = []


def signal_pending() -> int | None:
    """The signal the innermost running loop has received and not yet acted on (None if none)."""
    return _ACTIVE[-1].pending if _ACTIVE else None


class DeferredSignals:
    """Record SIGTERM/SIGINT/SIGUSR1/SIGUSR2 while a loop runs; act on them at a step boundary
    (see the module docstring for the contract)."""

    def __init__(self, signals: Sequence[int] = HANDLED_SIGNALS) -> None:
        self.signals = tuple(signals)
        self.previous: dict[int, Any] = {}
        self.pending: int | None = None

    def __enter__(self) -> DeferredSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                previous = signal.getsignal(signum)
                if previous == signal.SIG_IGN:
                    continue
                self.previous[signum] = previous
                signal.signal(signum, self._record)
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.remove(self)
        for signum, previous in self.previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self.previous = {}

    def _record(self, signum: int, frame: object) -> None:
        if self.pending == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C twice: the user will not wait for the step to end
        if self.pending is None:
            self.pending = signum

    def previous_handler(self, signum: int) -> Callable[[int, Any], Any] | None:
        """The Python-level handler installed before ours, if it is one to delegate to."""
        previous = self.previous.get(signum)
        if not callable(previous) or previous is signal.default_int_handler:
            return None
        if isinstance(getattr(previous, "__self__", None), DeferredSignals):
            return None  # an enclosing loop: let TrainingInterrupted reach it
        return previous

    def deliver(self, signum: int, *, what: str, checkpoint: Path | None, iteration: int, saved: bool,
                unit: str = "iteration", announce: bool = True) -> None:
        """Act on ``signum`` once the checkpoint is written (``saved``) or kept: print one line, then
        delegate to the previous handler or raise ``TrainingInterrupted``."""
        self.pending = None
        name = signal.Signals(signum).name
        if checkpoint is not None and saved:
            state = f"checkpoint {checkpoint} written at {unit} {iteration}"
        elif checkpoint is not None:
            state = f"checkpoint {checkpoint} of {unit} {iteration} kept (the unfinished {unit} is redone on resume)"
        else:
            state = "no checkpoint had been written yet"
        if announce:
            print(f"{what}: {name} received; {state}", file=sys.stderr, flush=True)
        handler = self.previous_handler(signum)
        if handler is not None:
            handler(signum, inspect.currentframe())
            return
        raise TrainingInterrupted(signum, checkpoint, iteration, what)


# --------------------------------------------------------------------------------------------------
# The loop


@dataclass(frozen=True)
class CheckpointPolicy:
    """When the loop saves besides the end, a deadline and a signal: every ``every_iterations``
    completed iterations and every ``every_minutes`` minutes of wall time (None: not by that measure)."""

    every_iterations: int | None = None
    every_minutes: float | None = DEFAULT_CHECKPOINT_MINUTES

    def __post_init__(self) -> None:
        if self.every_iterations is not None and self.every_iterations < 1:
            raise UserError(f"--checkpoint-every must be at least 1 iteration; got {self.every_iterations}")
        if self.every_minutes is not None and not self.every_minutes > 0:
            raise UserError(f"--checkpoint-minutes must be positive; got {self.every_minutes}")

    def iteration_due(self, completed: int) -> bool:
        return self.every_iterations is not None and completed % self.every_iterations == 0

    def time_due(self, seconds_since_save: float) -> bool:
        return self.every_minutes is not None and seconds_since_save >= 60.0 * self.every_minutes


class Deadline:
    """Wall-time cap (``TrainRequest.max_minutes``); ``None`` never expires."""

    def __init__(self, max_minutes: float | None, start: float | None = None) -> None:
        self.max_minutes = max_minutes
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


_UNITS = {"iteration": "it"}


@dataclass
class LoopResult:
    completed: int
    stopped_early: bool  # the deadline passed before ``total``


def run_loop(*, what: str, start: int, total: int, step: Callable[[int], Any], save: Callable[[bool], Any],
             checkpoint_path: Path, policy: CheckpointPolicy, deadline: Deadline | None = None,
             after_step: Callable[[int, Any], Mapping[str, Any] | None] | None = None, progress: bool = True,
             agree: Callable[[list[int]], list[int]] | None = None, announce: bool = True,
             unit: str = "iteration") -> LoopResult:
    """Run ``step(i)`` for i in [start, total), saving as ``policy`` says, at the end, when ``deadline``
    passes and on a signal (see the module docstring). ``save(done)`` writes the checkpoint (``done``:
    ``total`` reached); ``after_step(completed, step's result)`` logs and may return a tqdm postfix.
    ``agree(flags) -> flags`` makes every process of a distributed run take the same decisions (an
    element-wise max of [time cadence due, deadline passed, pending signal])."""
    deadline = deadline or Deadline(None)
    completed = start
    if start >= total:
        return LoopResult(completed, False)
    last_save = time.monotonic()
    stopped_early = False
    bar_options = {"desc": what, "unit": _UNITS.get(unit, unit), "leave": False, "dynamic_ncols": True,
                   "mininterval": 1.0, "disable": not progress}
    with DeferredSignals() as signals, tqdm(total=total, initial=start, **bar_options) as bar:
        while completed < total:
            try:
                result = step(completed)
            except StepAbandoned:
                if signals.pending is None:
                    raise
                signals.deliver(signals.pending, what=what, iteration=completed, saved=False, unit=unit,
                                checkpoint=checkpoint_path if checkpoint_path.exists() else None, announce=announce)
                continue  # the previous handler let training go on: run the abandoned step again
            completed += 1
            bar.update(1)
            if after_step is not None:
                postfix = after_step(completed, result)
                if postfix:
                    bar.set_postfix(postfix, refresh=False)
            flags = [int(policy.time_due(time.monotonic() - last_save)), int(deadline.expired()),
                     int(signals.pending or 0)]
            if agree is not None:
                flags = agree(flags)
            time_due, out_of_time, signum = flags
            if (policy.iteration_due(completed) or time_due or out_of_time or signum or completed == total):
                save(completed >= total)
                last_save = time.monotonic()
            if signum:
                bar.clear()
                signals.deliver(signum, what=what, checkpoint=checkpoint_path, iteration=completed, saved=True,
                                unit=unit, announce=announce)
            if out_of_time and completed < total:
                stopped_early = True
                break
        if signals.pending and agree is None:  # arrived during the last save: what it saved is on disk
            signals.deliver(signals.pending, what=what, checkpoint=checkpoint_path, iteration=completed, saved=True,
                            unit=unit, announce=announce)
    return LoopResult(completed, stopped_early)


# --------------------------------------------------------------------------------------------------
# The single-loop API (IIC, IIC-seg, ReDO, k-means, and new baselines)


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


# Config fields that say how long and how often, not what is trained: a run may resume with others
# (a larger ``steps`` extends a finished run exactly: the RNG stream continues where it stopped), and
# a checkpoint saved before a field existed (``sample_every``) resumes under the current default.
SCHEDULE_FIELDS = frozenset({"steps", "checkpoint_every", "sample_every"})


def resume_payload(out: Path, resume: bool, run: RunState, *, restart: bool = False,
                   schedule_fields: frozenset[str] = SCHEDULE_FIELDS) -> dict[str, Any] | None:
    """The saved payload to continue from, or None to start afresh (see ``claim_run_dir`` for an
    existing run without ``resume``). Refuses to mix runs whose configuration or data differ."""
    out = Path(out)
    if not claim_run_dir(out, resume=resume, restart=restart):
        return None
    path = out / CHECKPOINT_NAME
    payload = read_checkpoint(path, run.method)
    saved_config = {k: v for k, v in payload["config"].items() if k not in schedule_fields}
    wanted_config = {k: v for k, v in run.config.items() if k not in schedule_fields}
    for key, saved, wanted in (("config", saved_config, wanted_config),
                               ("data_fingerprint", payload["data_fingerprint"], run.data_fingerprint),
                               ("seed", payload["seed"], run.seed)):
        if saved != wanted:
            raise UserError(f"{path} was trained with a different {key} ({saved!r} != {wanted!r}); "
                            "use another --out, or --restart to start over")
    return payload


def run_training(run: RunState, *, out: Path, total_steps: int, step: Callable[[int], dict[str, float]],
                 state: Callable[[], dict[str, Any]], checkpoint_every: int | None,
                 max_minutes: float | None, checkpoint_minutes: float | None = DEFAULT_CHECKPOINT_MINUTES,
                 progress: bool = True, samples: SampleSheets | None = None) -> Path:
    """Run ``step`` from ``run.step`` to ``total_steps``, checkpointing; returns the checkpoint path.

    The checkpoint is ``{**run.header(), **state(), "rng": torch RNG state}``; ``run.complete`` says
    whether ``total_steps`` was reached. A finished run given a larger ``total_steps`` continues.
    ``samples``: the method's image grids, written to TensorBoard when ``samples.due`` (drawing them
    changes nothing that is trained)."""
    out = Path(out)
    path = out / CHECKPOINT_NAME
    start = time.monotonic()
    elapsed_before = run.elapsed_s

    def save(complete: bool) -> Path:
        run.complete = complete
        run.elapsed_s = elapsed_before + time.monotonic() - start
        return save_checkpoint(path, {**run.header(), **state(), "rng": torch.get_rng_state()})

    if run.step >= total_steps:
        if not (run.complete and path.exists()):
            save(True)
        return path

    board = RunBoard(out, start_step=run.step)  # TensorBoard: the losses every 10 steps, it/s, samples
    board.start_timing(run.step)

    def after_step(completed: int, losses: dict[str, float]) -> dict[str, float] | None:
        run.step = completed
        run.losses = {k: round(float(v), 5) for k, v in losses.items()}
        if samples is not None and samples.due(completed, total_steps):
            board.samples(completed, samples)
        if completed % 10 != 1:
            return None
        board.scalars(completed, run.losses)
        return run.losses

    try:
        run_loop(what=run.method, start=run.step, total=total_steps, step=step, save=save, checkpoint_path=path,
                 policy=CheckpointPolicy(checkpoint_every, checkpoint_minutes),
                 deadline=Deadline(max_minutes, start), after_step=after_step, progress=progress)
    finally:
        board.close()
    return path
