"""Result records: one JSON line per (method, variant, dataset, task, metric, seed, protocol), with
provenance. ``protocol`` is the tag (``name@vN``) of the evaluation protocol the value was scored
under (``benchmark.protocols``); records written before protocols existed read as OneGAN's.

Tables are rendered from these records only (StyleGAN2-ADA's metric logs); `bench run` appends
to ``<out>/records.jsonl`` and skips cells whose every metric is already recorded. The records of a
method scored from another program's files carry ``predictions_fingerprint`` (a hash of those files).

``bench records repair [PATH ...]`` (``records``) moves unreadable lines of result (or loss) logs aside.
``records.jsonl`` is append-only. A crash mid-append leaves a truncated last line, which readers skip
and the next append removes (saying so). Any other corrupt line stops every reader with the file and
line number instead of being dropped unseen; the repair moves such lines to ``<file>.bad`` (one JSON
record per moved line: file, line number, text) and rewrites the file atomically without them, under
the same lock the writers take.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmark import metric_registry
from benchmark.protocols import LEGACY_TAG, tag_of
from core.atomic import append_jsonl_lines, bad_lines_path, read_jsonl, repair_jsonl
from core.cli_options import cli
from core.errors import UserError
from core.locking import path_lock
from core.provenance import compute_environment, git_commit, package_versions

RECORDS_FILE = "records.jsonl"

# Derived from the metric declarations (benchmark.metric_registry), kept for importers.
TASK_METRICS: dict[str, tuple[str, ...]] = {t: metric_registry.task_metrics(t) for t in metric_registry.TASKS}
HIGHER_IS_BETTER = {name: m.higher_is_better for name, m in metric_registry.METRICS.items()}
METRIC_TITLES = {name: m.title for name, m in metric_registry.METRICS.items()}


def cell_key(record: dict) -> tuple:
    """What identifies one evaluated cell (all metrics of one task) for resuming."""
    return (record["method"], record.get("variant") or "", record["dataset_fingerprint"], record["task"],
            int(record["seed"]), record.get("preset", ""), tag_of(record))


class RecordStore:
    """Append-only JSON-lines store of result records in one directory.

    Several processes may share one store: ``claim`` locks a cell (one method/variant/seed) so that
    only one of them trains and scores it; the others wait, then find it done. A record whose
    training was cut short (``cut_short``) does not make its cell done: the next run resumes the
    training and scores it again (unless it came from a given checkpoint: ``resumable`` false).
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / RECORDS_FILE
        self._done: dict[tuple, set[str]] | None = None  # cell key -> recorded metrics
        self._read_size = -1  # size of the file when _done was built (another process may append)

    def load(self) -> list[dict]:
        return read_jsonl(self.path)

    def _refresh(self) -> None:
        size = self.path.stat().st_size if self.path.exists() else 0
        if self._done is not None and size == self._read_size:
            return
        self._done = {}
        records = self.load()
        group_counts = Counter(r["group"] for r in records if "group" in r)
        for record in records:
            if "group" in record and group_counts[record["group"]] < record["group_size"]:
                continue  # part of a task's records, the rest lost to a crash mid-append: redo the task
            # a cut-short cell is redone (resumed) by the next run, unless nothing can resume it
            # (a checkpoint given with --checkpoint is scored as it is)
            if not record.get("cut_short") or record.get("resumable") is False:
                inputs = record.get("predictions_fingerprint") or ""
                self._done.setdefault((*cell_key(record), inputs), set()).add(record["metric"])
        self._read_size = size

    def is_done(self, cell: dict, predictions_fingerprint: str | None = None) -> bool:
        """Whether every headline metric of ``cell``'s task (or its declared stand-in, e.g. ``is_1split``
        for ``is``) is recorded (``cell``: the fields of ``cell_key``). For a method scored from files
        (``external:``), only records of files with this ``predictions_fingerprint`` count: changed
        files are scored again."""
        self._refresh()
        recorded = self._done.get((*cell_key(cell), predictions_fingerprint or ""), set())
        filled = {metric_registry.get(m).shown_in for m in recorded if metric_registry.is_declared(m)}
        return set(TASK_METRICS[cell["task"]]) <= filled

    @contextlib.contextmanager
    def claim(self, cell: dict, title: str) -> Iterator[None]:
        """Hold the lock of one cell (``cell_key``'s fields but the task) while it is trained and scored;
        another process on the same store waits here (saying so), then sees what this one recorded."""
        with path_lock(self.claim_target(cell), f"scoring {title}",
                       wait_message=f"waiting for {title}: another process is training/scoring it"):
            yield

    def claim_target(self, cell: dict) -> Path:
        """What ``claim`` locks for ``cell`` (``core.locking.is_held`` tells whether someone works on it)."""
        key = json.dumps({k: cell.get(k) for k in ("method", "variant", "dataset_fingerprint", "seed", "preset",
                                                   "protocol")}, sort_keys=True, default=str)
        return self.out_dir / ".cells" / hashlib.sha1(key.encode()).hexdigest()[:16]

    def append(self, records: Iterable[dict]) -> None:
        """Append one task's records together (one write), each stamped with the group's id and size:
        a crash can leave only some of them, and then the task does not count as done."""
        records = list(records)
        group = uuid.uuid4().hex[:16]
        append_jsonl_lines(self.path, [{**r, "group": group, "group_size": len(records)} for r in records])
        self._read_size = -1  # re-read on the next check (cheap: one small file)


def make_records(*, method: str, variant: str | None, dataset: str, dataset_fingerprint: str, task: str,
                 values: dict[str, float], seed: int, preset: str, config: dict | None, checkpoint: str | None,
                 wall_time_s: float, options: dict | None = None, protocol: str = LEGACY_TAG,
                 progress: dict | None = None) -> list[dict]:
    """One record per metric, each carrying the full provenance (so any line stands alone). Every
    metric must be declared in ``benchmark.metric_registry`` (``UnknownMetricError`` otherwise).

    ``progress`` (``TrainingProgress.as_record()``): iterations trained and planned, and ``cut_short``."""
    for metric in values:
        metric_registry.get(metric)
    commit, versions, compute = git_commit(), package_versions(), compute_environment()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return [{
        "method": method, "variant": variant, "dataset": dataset, "dataset_fingerprint": dataset_fingerprint,
        "task": task, "metric": metric, "value": float(value), "seed": seed, "preset": preset, "protocol": protocol,
        "config": config, "checkpoint": checkpoint, "git_commit": commit, "versions": versions,
        "compute": compute,
        "wall_time_s": round(wall_time_s, 3), "options": options or {}, "source": "measured",
        "timestamp": stamp, **(progress or {}),
    } for metric, value in values.items()]


@dataclass(frozen=True)
class RecordsOptions:
    """What ``bench records`` (and ``records``) takes."""

    action: str = field(default="repair", metadata=cli(
        "repair: move corrupt lines of JSON-lines files to <file>.bad", positional=True, choices=["repair"]))
    paths: tuple[str | Path, ...] = field(default=("results/latest",), metadata=cli(
        f"JSON-lines files, or results directories holding {RECORDS_FILE} (default: results/latest)",
        positional=True, nargs="*", metavar="PATH"))


def records(action: str = RecordsOptions.action, paths: Iterable[str | Path] = RecordsOptions.paths) -> None:
    """The API behind ``bench records ACTION`` (the options of ``RecordsOptions``); the one action,
    ``repair``, repairs each of ``paths`` (a directory: its records.jsonl) and prints what it moved."""
    if action != "repair":
        raise UserError(f"unknown records action {action!r}; the one action is repair")
    for given in paths:
        path = Path(given)
        if path.is_dir():
            path = path / RECORDS_FILE
        moved = repair_jsonl(path)
        if moved:
            lines = ", ".join(str(number) for number, _ in moved)
            print(f"{path}: moved {len(moved)} corrupt line(s) (line {lines}) to {bad_lines_path(path)}")
        else:
            print(f"{path}: every line reads; nothing to repair")
