"""The order a grid's cells are submitted in: the longest first.

A job array with fewer slots than cells starts its tasks in index order, each as a slot frees up. In
the grid's own order (per seed, every method) the long cells can fall one after another into one slot
while the other slot runs out of work: the 4-cell ``tiny`` grid of IIC-seg and ReDO kept one slot busy
for 159 s while the best split needs 121 s. Submitting the longest cells first (Graham's LPT rule,
within 4/3 of the best schedule) fixes that without knowing the slots' count.

A cell's expected duration is measured, not guessed: the longest training plus scoring time recorded
for the same method and variant at the same scale, first in the run's own records (earlier seeds of
the same grid), then in the records this installation ships (``results/demo`` for ``tiny``,
``results/reference`` for ``smoke`` and the ablations' smoke scale). A cell never measured goes first:
it may be the longest, and long work started last is what stretches a grid.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

from benchmark.grid import PlannedCell
from benchmark.methods import record_name

SHIPPED_RECORDS = tuple(Path(__file__).resolve().parents[2] / "results" / folder / "records.jsonl"
                        for folder in ("demo", "reference"))


def cell_seconds(records: Iterable[dict]) -> dict[tuple[str, str | None, str], float]:
    """Measured seconds of each (method, variant, scale) cell in ``records``: its training (or loading)
    time plus the scoring time of each task, the longest over the seeds and datasets recorded.

    A cell's records share ``options.train_or_load_seconds``; the records of one task's scoring share
    a ``group`` and its ``wall_time_s``."""
    training: dict[tuple, float] = {}
    scoring: dict[tuple, dict[str, float]] = {}
    for record in records:
        if record.get("source", "measured") != "measured":
            continue
        cell = (record["method"], record.get("variant"), record["preset"], record.get("seed"),
                record.get("dataset_fingerprint"))
        options = record.get("options") or {}
        training[cell] = max(training.get(cell, 0.0), float(options.get("train_or_load_seconds") or 0.0))
        group = record.get("group") or f"{record['task']}/{record['metric']}"
        scoring.setdefault(cell, {})[group] = float(record.get("wall_time_s") or 0.0)
    seconds: dict[tuple[str, str | None, str], float] = {}
    for cell, trained in training.items():
        key = cell[:3]
        seconds[key] = max(seconds.get(key, 0.0), trained + sum(scoring[cell].values()))
    return seconds


def shipped_seconds(paths: Iterable[Path] = SHIPPED_RECORDS) -> dict[tuple[str, str | None, str], float]:
    """``cell_seconds`` of the records this installation ships (none in an installed wheel)."""
    records = []
    for path in paths:
        if path.is_file():
            records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return cell_seconds(records)


def expected_seconds(cells: list[PlannedCell], scale: dict[PlannedCell, str], *measured: dict
                     ) -> dict[PlannedCell, float | None]:
    """Each cell's expected seconds, None when never measured. ``scale``: each cell's record ``preset``
    label; ``measured``: ``cell_seconds`` tables, the first that knows a cell wins (the run's own records
    before the shipped ones)."""
    def expected(cell: PlannedCell) -> float | None:
        key = (record_name(cell.method), cell.variant, scale[cell])
        return next((table[key] for table in measured if key in table), None)

    return {cell: expected(cell) for cell in cells}


def longest_first(cells: list[PlannedCell], seconds: dict[PlannedCell, float | None]) -> list[PlannedCell]:
    """``cells`` ordered by expected duration (``seconds``, from ``expected_seconds``), longest first;
    cells never measured first of all; ties keep the grid's order (``sorted`` is stable)."""
    return sorted(cells, key=lambda cell: -(math.inf if seconds[cell] is None else seconds[cell]))


def pack(cells: list[PlannedCell], seconds: dict[PlannedCell, float | None], per_job: int) -> list[list[PlannedCell]]:
    """``cells`` (longest first) in jobs of at most ``per_job`` cells each, as few jobs as that allows,
    their expected totals balanced: each cell in turn joins the job with the least expected time that
    has room (LPT again). A cell never measured counts as the longest measured one."""
    jobs: list[list[PlannedCell]] = [[] for _ in range(math.ceil(len(cells) / per_job))]
    known = [s for s in seconds.values() if s is not None]
    fallback = max(known, default=1.0)
    totals = [0.0] * len(jobs)
    for cell in cells:
        room = [i for i, job in enumerate(jobs) if len(job) < per_job]
        chosen = min(room, key=lambda i: (totals[i], i))
        jobs[chosen].append(cell)
        totals[chosen] += fallback if seconds[cell] is None else seconds[cell]
    return jobs
