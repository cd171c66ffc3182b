"""``bench status --out DIR [--work DIR]``: one line per cell of every grid run into DIR, and totals.

Every ``bench run`` (in-process or launched) remembers its grid in ``<out>/jobs/plans/<hash>.json``
(its arguments), so the status needs only the results directory: each grid is planned again exactly
as ``bench run`` plans it, and each cell is looked up (``benchmark.launch.cells.cell_state``): done /
running (job, iteration of planned, last loss line, how long ago) / queued / failed (error line, log)
/ cut short / to do.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

from core.atomic import write_json_atomic
from core.errors import UserError

PLANS_DIR = Path("jobs") / "plans"
ORDER = ("done", "running", "queued", "failed", "cut short", "to do")


def remember_plan(out: str | Path, arguments: dict) -> None:
    """Keep ``bench run``'s grid arguments beside its records (once per distinct grid)."""
    text = json.dumps(arguments, sort_keys=True, default=str)
    path = Path(out) / PLANS_DIR / f"{hashlib.sha1(text.encode()).hexdigest()[:12]}.json"
    if not path.exists():
        write_json_atomic(path, json.loads(text))


def print_status(ctx, cells, shared=None) -> Counter:
    """One line per cell of the grid (``ctx``: its RunContext), then returns the count per state.
    ``shared`` (``SharedWork``): the grid's shared task, shown first when it has one (not counted)."""
    from benchmark.launch.cells import cell_state, shared_state
    from benchmark.launch.submit import _say
    from core.launching import slurm_jobs

    slurm = None
    if shutil.which("squeue"):
        try:
            slurm = slurm_jobs()
        except UserError as err:
            print(f"({err}; queued/running Slurm jobs cannot be told apart from dead ones)")
    counts: Counter = Counter()
    print(f"{ctx.prepared.name} [{ctx.prepared.fingerprint[:8]}], preset {ctx.preset.name}, "
          f"protocol {ctx.protocol.tag}, records {ctx.store.path}")
    if shared is not None:
        print(_say(shared_state(ctx, shared.done(ctx), slurm)))
    for cell in cells:
        state = cell_state(ctx, cell, slurm)
        counts[state.kind] += 1
        print(_say(state))
    return counts
