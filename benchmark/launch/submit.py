"""Submitting a grid's cells as one submitit job array, the cell job itself, and the wait-and-report loop.

Each cell job (``CellJob``, a ``submitit.helpers.Checkpointable``) rebuilds the run's context from
plain fields and calls ``benchmark.run.evaluate_cells``: the very code an in-process run calls, so it
trains (or resumes) the cell, scores its tasks and appends the same records. On Slurm's warning signal
(preemption or the time limit; submitit asks for USR2) submitit calls ``checkpoint`` and requeues the
job; the requeued job runs the same cell, whose training resumes from its last checkpoint (the
trainers save one at the next step boundary when signalled, ``core/training_run.py``).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import submitit

from benchmark import protocols
from benchmark.grid import PlannedCell, cell_fields, scale_label, supported_tasks, train_request
from benchmark.launch.cells import (
    JOBS_DIR,
    CellState,
    SharedWork,
    cell_state,
    read_entry,
    shared_state,
    update_entry,
)
from benchmark.launch.estimate import measured_speed, onegan_gpu_hours
from benchmark.launch.options import LaunchOptions, grid_resources
from benchmark.launch.order import cell_seconds, expected_seconds, longest_first, pack, shipped_seconds
from benchmark.methods import BUILDERS, built_on_evaluator, title_of
from benchmark.presets import RunPreset
from benchmark.run_context import RunContext
from core.errors import TrainingInterrupted, UserError
from core.launching import make_executor, preflight, slurm_jobs, submit_jobs


@dataclass(frozen=True)
class CellSpec:
    """Everything a cell job needs to rebuild the run's context (plain, picklable values)."""

    preset: RunPreset
    data: Path
    work: Path
    out: Path
    force: bool
    device: str | None           # None: the job's own GPU when it has one, else the CPU
    evaluator: Path | None
    inception_weights: Path | None
    protocol: str
    cell: PlannedCell | None     # None: the grid's shared task (SharedWork)
    name: str                    # cell_id (shared_id for the shared task)
    # What scores a cell: ``benchmark.run.evaluate_cells``, the very function an in-process run calls
    # (passed in, pickled by reference, so this module needs no import of the run that launches it).
    evaluate: Callable[..., object]


def _context(spec: CellSpec) -> RunContext:
    """The run's context rebuilt where the job runs (its own GPU when it has one, unless --device)."""
    import torch

    from benchmark.records import RecordStore
    from data_prep.prepared import load_prepared

    device = spec.device or ("cuda" if torch.cuda.is_available() else "cpu")
    return RunContext(spec.preset, load_prepared(spec.data), spec.work, RecordStore(spec.out), device, spec.force,
                      evaluator=spec.evaluator, inception_weights=spec.inception_weights,
                      protocol=protocols.get(spec.protocol))


class CellJob(submitit.helpers.Checkpointable):
    """One array task: its cells one after another (one cell unless ``--cells-per-job``), or the grid's
    shared task (a spec whose ``cell`` is None, ``SharedWork.run`` as its ``evaluate``). ``checkpoint``
    (submitit's default: resubmit this same callable) requeues it; the requeued task skips the cells it
    finished and resumes the one it was in."""

    def __init__(self, specs: list[CellSpec]) -> None:
        self.specs = specs

    def __call__(self) -> str:
        names = ", ".join(spec.name for spec in self.specs)
        if _join_tasks() != 0:  # another data-parallel rank: trains OneGAN cells beside rank 0, records nothing
            for spec in self.specs:
                if spec.cell is not None:
                    _train_as_rank(spec)
            return names
        failed = []
        for spec in self.specs:
            if len(self.specs) > 1 and _entry(spec).get("state") == "finished":
                continue  # a requeued task: this cell ended before the signal
            try:
                _run_cell(spec)
            except Exception as err:
                if len(self.specs) == 1 or isinstance(err, TrainingInterrupted):
                    raise  # a signal's deferred stop goes to submitit (requeue); one cell fails its job
                failed.append(f"{spec.name}: {_one_line(err)}")  # the job's other cells still run
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(self.specs)} cells of this job failed: " + "; ".join(failed))
        return names


def _run_cell(spec: CellSpec) -> None:
    """Train (or resume) and score one cell, or do the shared task, keeping its registry entry."""
    previous = _entry(spec)
    update_entry(spec.out, spec.name, state="running", job_id=_job_id(previous), host=socket.gethostname(),
                 pid=os.getpid(), started=time.time(), starts=int(previous.get("starts", 0)) + 1, error=None)
    try:
        ctx = _context(spec)
        cell = spec.cell
        if cell is None:
            spec.evaluate(ctx)
        else:
            spec.evaluate(ctx, cell.method, cell.variant, list(cell.tasks), cell.seed, cell.checkpoint)
    except Exception as err:
        if not isinstance(err, TrainingInterrupted):  # a signal's deferred stop, not a failure
            update_entry(spec.out, spec.name, state="failed", error=_one_line(err), ended=time.time())
        raise
    update_entry(spec.out, spec.name, state="finished", ended=time.time())


def _join_tasks() -> int:
    """In a job of several tasks, set the data-parallel rendezvous variables from submitit's view of this
    task (onegan/train_job.py); returns the global rank (0 outside a job or with one task)."""
    from onegan.train_job import set_distributed_environment

    try:
        env = submitit.JobEnvironment()
    except RuntimeError:
        return 0
    if env.num_tasks > 1:
        set_distributed_environment(env)
    return env.global_rank


def _train_as_rank(spec: CellSpec) -> str:
    """Rank > 0 of a multi-task cell: OneGAN trains with every rank (rank 0 holds the locks, scores and
    records); other methods train in one process, so their extra ranks have nothing to do."""
    from onegan.api import train

    cell = spec.cell
    if cell.method != "onegan" or cell.checkpoint is not None:
        return spec.name
    ctx = _context(spec)
    base = cell_fields(ctx, cell.method, cell.variant, cell.seed)
    tasks = supported_tasks(ctx, "onegan", cell.tasks)
    if not spec.force and all(ctx.store.is_done({**base, "task": t}) for t in tasks):
        return spec.name  # rank 0 finds it recorded too and trains nothing
    train(train_request(ctx, cell.method, cell.variant, cell.seed), progress=False)
    return spec.name


def _entry(spec: CellSpec) -> dict:
    return read_entry(spec.out, spec.name) or {}


def _job_id(previous: dict) -> str:
    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # not inside a submitit job (a direct call)
        return str(previous.get("job_id", ""))


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}"[:300]


def before_preparing(preset: RunPreset, cells: list[PlannedCell], options: LaunchOptions, dataset: str,
                     protocol: protocols.Protocol) -> bool:
    """``--dry-run``: print the plan and return True. Otherwise check, before anything is prepared or
    trained, that Slurm can take the jobs: its commands are there, the controller answers, the
    partition exists."""
    if options.dry_run:
        print_plan(preset, cells, options, dataset, protocol)
        return True
    preflight(options)
    return False


# ---- bench run --launcher ------------------------------------------------------------------------

def _states(ctx: RunContext, cells: list[PlannedCell], kind: str, shared: SharedWork | None = None
            ) -> list[CellState]:
    slurm = slurm_jobs() if kind == "slurm" else None
    states = [cell_state(ctx, c, slurm) for c in cells]
    if shared is not None:
        states.insert(0, shared_state(ctx, shared.done(ctx), slurm))
    if ctx.force:  # --force: redo every cell no job is on now
        states = [s if s.kind in ("running", "queued") else CellState(s.cell, s.name, "to do") for s in states]
    return states


SHARED_TITLE = "evaluator and Dataset row (shared by the cells)"


def _say(state: CellState) -> str:
    cell = state.cell
    title = SHARED_TITLE if cell is None else f"{title_of(cell.method, cell.variant)} seed {cell.seed}"
    line = f"  {title}: {state.kind}"
    line += f" ({state.detail})" if state.detail else ""
    if state.kind == "failed" and state.log:
        line += f"; log {state.log}"
    return line


def launch(ctx: RunContext, cells: list[PlannedCell], options: LaunchOptions, device_given: bool,
           evaluate: Callable[..., object], shared: SharedWork | None = None) -> bool:
    """Submit the cells not done, running or queued as one job array, the longest first, after the grid's
    ``shared`` task when it has one to do; wait for every cell of the grid unless ``--no-wait``. Returns
    True when every cell is recorded (False after ``--no-wait``); a cell that failed is reported (error
    line, log) and raises a UserError naming how many."""
    kind = options.kind
    states = _states(ctx, cells, kind, shared)
    for state in states:
        if not state.needs_submitting:
            print(_say(state))
    todo = [s for s in states if s.needs_submitting]
    if todo:
        folder = Path(options.log_dir or ctx.store.out_dir / JOBS_DIR)
        methods = [s.cell.method for s in todo if s.cell is not None] or [c.method for c in cells]
        resources = options.with_defaults(grid_resources(methods, ctx.preset.name))
        executor = make_executor(kind, folder, resources, options, name=f"bench-{ctx.preset.name}")

        def spec(state: CellState) -> CellSpec:
            return CellSpec(ctx.preset, ctx.prepared.root, ctx.work.absolute(), ctx.store.out_dir.absolute(),
                            ctx.force, ctx.device if device_given else None, ctx.evaluator, ctx.inception_weights,
                            ctx.protocol.name, state.cell, state.name,
                            evaluate if state.cell is not None else shared.run)

        bundles = [[s] for s in todo if s.cell is None] + _cell_bundles(ctx, [s for s in todo if s.cell is not None],
                                                                       options.cells_per_job)
        jobs = submit_jobs(executor, [CellJob([spec(s) for s in bundle]) for bundle in bundles])
        for bundle, job in zip(bundles, jobs, strict=True):
            for position, state in enumerate(bundle):
                cell = {} if state.cell is None else {"method": state.cell.method, "variant": state.cell.variant,
                                                      "seed": state.cell.seed}
                update_entry(ctx.store.out_dir, state.name, state="submitted", job_id=str(job.job_id),
                             launcher=kind, stdout=str(job.paths.stdout), stderr=str(job.paths.stderr),
                             submitted=time.time(), error=None, position=position, **cell)
        first = str(jobs[0].job_id).split("_")[0]
        count = sum(s.cell is not None for s in todo)
        cell_jobs = len(jobs) - (count < len(todo))
        packed = f" in {cell_jobs} job{'s' if cell_jobs != 1 else ''} of up to {options.cells_per_job}" \
            if options.cells_per_job > 1 else ""
        print(f"submitted {count} cell(s){packed}{' and the shared task first' if count < len(todo) else ''} "
              f"({resources.describe()} each, {options.parallel} at once) "
              f"{'as job array ' + first if kind == 'slurm' else 'as local processes'}; logs in {folder}")
    else:
        print("nothing to submit: every cell is done, running or queued")
    if not options.wait:
        print(f"follow them with: bench status --out {ctx.store.out_dir} --work {ctx.work}")
        return False
    return wait_for(ctx, cells, kind, options.poll_s, shared)


def _cell_bundles(ctx: RunContext, todo: list[CellState], per_job: int) -> list[list[CellState]]:
    """The cells to submit, longest expected first, one per array task or, with ``per_job`` > 1, packed
    into tasks of up to ``per_job`` with balanced expected totals (``benchmark/launch/order.py``)."""
    by_cell = {state.cell: state for state in todo}
    scale = {cell: scale_label(ctx, cell.variant) for cell in by_cell}
    seconds = expected_seconds(list(by_cell), scale, cell_seconds(ctx.store.load()), shipped_seconds())
    ordered = longest_first(list(by_cell), seconds)
    # a cell built on the evaluator cannot begin before the shared task has trained it: last, so its
    # slot does not wait on the evaluator's lock while other cells could run
    ordered.sort(key=lambda cell: built_on_evaluator(cell.method))
    if per_job == 1:
        return [[by_cell[cell]] for cell in ordered]
    bundles = pack(ordered, seconds, per_job)
    return [[by_cell[cell] for cell in bundle] for bundle in bundles]


def wait_for(ctx: RunContext, cells: list[PlannedCell], kind: str, poll_s: float,
             shared: SharedWork | None = None) -> bool:
    """Poll until no cell of the grid (nor its shared task) is queued or running; report each as it ends."""
    shown: dict[str, str] = {}
    while True:
        states = _states(ctx, cells, kind, shared)
        for state in states:
            if state.kind in ("done", "failed", "cut short") and shown.get(state.name) != state.kind:
                if state.name in shown or state.kind != "done":
                    print(_say(state), flush=True)
            shown[state.name] = state.kind
        if not any(s.kind in ("running", "queued") for s in states):
            break
        time.sleep(poll_s)
    failed = [s for s in states if s.kind in ("failed", "to do")]
    if failed:
        for state in failed:
            print(_say(state), file=sys.stderr)
        raise UserError(f"{len(failed)} of {len(states)} cells failed (listed above with their logs); "
                        "run the same command again to resubmit them")
    return True


# ---- --dry-run -----------------------------------------------------------------------------------

def print_plan(preset: RunPreset, cells: list[PlannedCell], options: LaunchOptions, dataset: str,
               protocol: protocols.Protocol) -> None:
    """Each cell, its resources and its estimated GPU-hours, and the grid's total (nothing submitted)."""
    resources = options.with_defaults(grid_resources([c.method for c in cells], preset.name))
    shim = SimpleNamespace(preset=preset, protocol=protocol)  # what scale_label / supported_tasks read
    speed = measured_speed()
    rate = "no measured throughput in this installation" if speed is None else (
        f"model card FLOPs / {speed.gflop_per_s['I']:.0f} (phase I), {speed.gflop_per_s['II']:.0f} (phase II) "
        f"GFLOP/s measured on {speed.device}")
    print(f"plan: bench run --launcher {options.kind}, dataset {dataset}, preset {preset.name}: {len(cells)} cells, "
          f"one job array, {options.parallel} at once")
    print(f"resources per cell: {resources.describe()}; partition {options.partition or '(default)'}"
          + (f"; sbatch {options.sbatch}" if options.sbatch else ""))
    print(f"GPU-hours of training (scoring not included): {rate}")
    if any("generation" in supported_tasks(shim, c.method, c.tasks) or built_on_evaluator(c.method) for c in cells):
        print("first task of the array: the evaluator classifier (unless --evaluator gives one) and Table 1's "
              "Dataset row, which the cells share")
    total, estimated, unestimated = 0.0, 0, 0
    for cell in cells:
        hours = None
        if cell.method == "onegan" and cell.checkpoint is None:
            method_preset = preset.method_preset
            iterations = preset.iterations.get("onegan")
            ablation = None
            if cell.variant is not None:
                method_preset = preset.ablation_preset or method_preset
                iterations = preset.ablation_iterations or iterations
                ablation = None if cell.variant == "reference" else cell.variant
            hours = onegan_gpu_hours(method_preset, ablation, iterations)
        if hours is None:
            unestimated += 1
        else:
            total, estimated = total + hours, estimated + 1
        if hours is None and cell.method in BUILDERS:
            shown = "no training (scoring only)"
            unestimated -= 1
        else:
            shown = "n/a (no measured throughput)" if hours is None else f"{hours:.4g} GPU-h"
        tasks = ", ".join(supported_tasks(shim, cell.method, cell.tasks)) or "nothing to score"
        print(f"  {title_of(cell.method, cell.variant):<28} seed {cell.seed}  [{scale_label(shim, cell.variant)}]  "
              f"{tasks}  {shown}")
    print(f"total: {total:.4g} GPU-h of training over {estimated} OneGAN cells"
          + (f"; {unestimated} trained baseline cells without an estimate (no throughput measured)"
             if unestimated else ""))
