"""``bench status --out DIR [--work DIR]``: where each cell of the grids ``bench run`` planned into
``--out`` stands (done / running / queued / failed / cut short), read from records, checkpoints and the
job folders; the same for in-process and launched runs. It replays each remembered grid through
``benchmark.run.run`` with the ``status`` launcher, which plans the cells and prints them, running nothing."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.launch.options import LaunchOptions
from benchmark.launch.status import ORDER, PLANS_DIR
from benchmark.run import run
from core.cli_options import cli
from core.errors import UserError


@dataclass(frozen=True)
class StatusOptions:
    """What ``bench status`` (and ``status``) takes."""

    out: str | Path = field(metadata=cli("the results directory of bench run"))
    work: str | Path | None = field(default=None, metadata=cli(
        "its work directory (default: the one each run was given)"))


def status(out: str | Path, work: str | Path | None = StatusOptions.work) -> Counter:
    """The API behind ``bench status`` (the options of ``StatusOptions``): print each planned cell's state
    and the totals; returns the count per state."""
    plans = sorted((Path(out) / PLANS_DIR).glob("*.json"))
    if not plans:
        raise UserError(f"no bench run has planned a grid in {out} (no {PLANS_DIR}/*.json there)")
    totals: Counter = Counter()
    for path in plans:
        arguments = json.loads(path.read_text())
        if work is not None:
            arguments["work"] = work
        counts = Counter()
        run(**arguments, out=out, figures=False, launcher=LaunchOptions(kind="status", status_counts=counts))
        totals += counts
    print("total: " + ", ".join(f"{totals[k]} {k}" for k in ORDER if totals[k]) + f" ({sum(totals.values())} cells)")
    return totals
