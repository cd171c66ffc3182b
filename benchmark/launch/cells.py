"""Where each planned cell of a grid stands, read from what is on disk and what Slurm says.

- the records (``<out>/records.jsonl``): done, or cut short (trained less than planned);
- the cell's lock (``RecordStore.claim``): a live process trains or scores it now (any launcher,
  in-process runs included: the kernel drops a ``flock`` with its holder, so a held lock is a live one);
- the job registry ``<out>/jobs/cells/<cell>.json``, written when a cell is submitted and updated
  by its job (started, failed with an error line): queued or running while its job is alive, and
  failed when its job is gone and left no record (killed without a word: out of memory, ``scancel``);
- the run folder: the checkpoint's iteration of planned, the last loss line and its age.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.grid import PlannedCell, cell_fields, supported_tasks, train_request
from benchmark.run_context import RunContext
from benchmark.training_progress import checkpoint_progress
from core.atomic import read_jsonl, write_json_atomic
from core.locking import is_held

JOBS_DIR = "jobs"
REGISTRY_DIR = "cells"
LOSS_LOG = "losses.jsonl"   # onegan/trainer.py and baselines/gan_training.py write their losses here


def cell_id(ctx: RunContext, cell: PlannedCell) -> str:
    """A file-name-safe name of the cell, unique within one results directory."""
    fields = cell_fields(ctx, cell.method, cell.variant, cell.seed)
    name = f"{ctx.prepared.fingerprint[:8]}-{fields['preset']}-{fields['protocol']}-{cell.method}"
    name += f"-{cell.variant}" if cell.variant else ""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{name}-seed{cell.seed}")


def shared_id(ctx: RunContext) -> str:
    """The name of the grid's shared task (evaluator and Dataset row), beside its cells' names."""
    name = f"{ctx.prepared.fingerprint[:8]}-{ctx.preset.name}-{ctx.protocol.tag}-shared"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def registry_path(out: Path, name: str) -> Path:
    return Path(out) / JOBS_DIR / REGISTRY_DIR / f"{name}.json"


def read_entry(out: Path, name: str) -> dict | None:
    path = registry_path(out, name)
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        return json.loads(path.read_text())
    return None


def update_entry(out: Path, name: str, **fields) -> dict:
    """Merge ``fields`` into the cell's registry entry (atomic replace; the cell's single job writes it)."""
    entry = {**(read_entry(out, name) or {}), **fields}
    write_json_atomic(registry_path(out, name), entry)
    return entry


# ---- what the scheduler says ----------------------------------------------------------------------

def local_job_alive(job_id: str) -> bool:
    """A local (submitit LocalExecutor) job's id is its controller's pid: alive unless gone or a zombie."""
    pid = int(job_id.split("_")[0])
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def job_state(entry: dict, slurm: dict[str, str] | None) -> str | None:
    """The scheduler's state of the entry's job (PENDING / RUNNING / ...), None when it is gone."""
    job = str(entry.get("job_id", ""))
    if not job:
        return None
    if entry.get("launcher") == "local":
        return "RUNNING" if local_job_alive(job) else None
    if slurm is None:
        return "UNKNOWN"
    state = slurm.get(job)
    return None if state in (None, "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY") else state


# ---- one cell -------------------------------------------------------------------------------------

@dataclass
class CellState:
    cell: PlannedCell | None  # None: the grid's shared task (the evaluator and the Dataset row)
    name: str            # cell_id
    kind: str            # done | running | queued | failed | cut short | to do
    detail: str = ""
    log: str | None = None

    @property
    def needs_submitting(self) -> bool:
        return self.kind in ("to do", "failed", "cut short")


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds / 3600:.1f} h ago"


def training_detail(run_dir: Path) -> str:
    """Iteration of planned (the last checkpoint), the last loss line and how long ago it was written."""
    parts = []
    progress = checkpoint_progress(run_dir)
    if progress is not None:
        parts.append(f"iteration {progress.trained}/{progress.planned} (checkpoint)")
    log = run_dir / LOSS_LOG
    if log.is_file():
        lines = read_jsonl(log)
        if lines:
            last = lines[-1]
            shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float)
                              and not k.startswith("seconds"))[:160]
            it = last.get("iteration")
            parts.append(f"last loss line{f' (iteration {it})' if it is not None else ''}: {shown or '-'}, "
                         f"{_ago(time.time() - log.stat().st_mtime)}")
    return "; ".join(parts) or "not training yet"


def last_error_line(path: str | None) -> str:
    """The last line of a job log that reads like an error (or its last line)."""
    if not path or not Path(path).is_file():
        return ""
    lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.search(r"Error|Exception|Killed|oom|OOM|CANCELLED|error:", ln)
              and "Bypassing" not in ln]
    return (errors or lines or [""])[-1][:300]


def _job_says(cell: PlannedCell | None, name: str, entry: dict, slurm: dict[str, str] | None,
              starting: Callable[[], str]) -> CellState | None:
    """Queued, running or failed, as the cell's job (the scheduler) and its registry entry tell; None
    when neither tells anything (no entry, or a job that ended leaving the entry finished). ``starting()``:
    what to say of a job that runs but whose cell has not begun (holds no lock yet), asked only then."""
    job, log = entry.get("job_id"), entry.get("stderr")
    state = job_state(entry, slurm) if entry else None
    if state in ("PENDING", "REQUEUED"):
        return CellState(cell, name, "queued", f"job {job}" + (" (requeued)" if entry.get("starts", 0) else ""), log)
    if state is not None and entry.get("state") == "submitted" and entry.get("position", 0) > 0:
        # a job of several cells (--cells-per-job) runs the ones before this one
        return CellState(cell, name, "queued", f"job {job}, after {entry['position']} cell(s) of the same job", log)
    if state is not None:
        return CellState(cell, name, "running", f"job {job}, {starting()}", log)
    if entry.get("state") == "failed":
        return CellState(cell, name, "failed", entry.get("error") or last_error_line(log), log)
    if entry.get("state") in ("submitted", "running"):
        reason = last_error_line(log) or "no error in its log"
        return CellState(cell, name, "failed", f"job {job} ended without a result (killed? out of memory?): {reason}",
                         log)
    return None


def cell_state(ctx: RunContext, cell: PlannedCell, slurm: dict[str, str] | None) -> CellState:
    """Where ``cell`` stands now (see the module docstring)."""
    name = cell_id(ctx, cell)
    base = cell_fields(ctx, cell.method, cell.variant, cell.seed)
    tasks = supported_tasks(ctx, cell.method, cell.tasks)
    entry = read_entry(ctx.store.out_dir, name) or {}
    log = entry.get("stderr")
    job = entry.get("job_id")
    run_dir = train_request(ctx, cell.method, cell.variant, cell.seed).out
    if all(ctx.store.is_done({**base, "task": t}) for t in tasks) and not ctx.force:
        return CellState(cell, name, "done", ", ".join(tasks) or "nothing to score")
    if is_held(ctx.store.claim_target(base)):
        where = f"job {job}, " if job and entry.get("state") == "running" else ""
        return CellState(cell, name, "running", where + training_detail(run_dir), log)
    said = _job_says(cell, name, entry, slurm, lambda: f"starting; {training_detail(run_dir)}")
    if said is not None:
        return said
    cut = [r for r in ctx.store.load() if all((r.get(k) or None) == (base.get(k) or None) for k in base)
           and r.get("cut_short") and r.get("resumable") is not False]
    if cut:
        last = cut[-1]
        return CellState(cell, name, "cut short", f"trained {last.get('iterations_trained')}/"
                         f"{last.get('iterations_planned')} iterations; the next run resumes it", log)
    return CellState(cell, name, "to do", "")


@dataclass(frozen=True)
class SharedWork:
    """What the cells of a grid share, done once by the first task of its job array: the evaluator
    classifier and Table 1's Dataset row (``benchmark.run.shared_work``). Both functions take the run's
    context; passed in by reference, like ``CellSpec.evaluate``."""

    run: Callable[[RunContext], None]
    done: Callable[[RunContext], bool]


def shared_state(ctx: RunContext, done: bool, slurm: dict[str, str] | None) -> CellState:
    """Where the grid's shared task stands (``done``: what it makes exists), read as a cell's state is."""
    name = shared_id(ctx)
    if done:
        return CellState(None, name, "done")
    entry = read_entry(ctx.store.out_dir, name) or {}
    return _job_says(None, name, entry, slurm, lambda: "training the evaluator or scoring the Dataset row") or \
        CellState(None, name, "to do")
