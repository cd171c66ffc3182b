"""``bench check``: the CI regression check.

Runs the ``smoke`` preset on the synthetic dataset with fixed seeds and compares every metric with the
reference records in ``results/reference/records.jsonl`` under per-metric tolerances. A metric that got
*worse* by more than its tolerance (or is missing) is a regression: a diff table is printed and the exit
status is 1. ``--update`` deliberately rewrites the reference from this run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from tabulate import tabulate

from benchmark.records import HIGHER_IS_BETTER, TASK_METRICS
from benchmark.run import run
from benchmark.table import aggregate
from data_prep.atomic import atomic_path, read_jsonl

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference" / "records.jsonl"
# Allowed worsening before a metric counts as regressed: absolute for bounded scores (IOU/DICE in
# percentage points, ACC/NMI as fractions), relative for FID/IS-type scores whose scale varies.
TOLERANCES = {"iou": ("abs", 5.0), "dice": ("abs", 5.0), "acc": ("abs", 0.05), "nmi": ("abs", 0.05),
              "fid": ("rel", 0.25), "cfid": ("rel", 0.25), "is": ("rel", 0.25), "cis": ("rel", 0.25),
              "diversity": ("abs", 0.15)}
SCORED_METRICS = {m for metrics in TASK_METRICS.values() for m in metrics}  # the tables' columns


def compare(reference: list[dict], measured: list[dict]) -> tuple[list[list], bool]:
    """Rows (protocol, method, variant, metric, reference, measured, allowed, status) and whether all
    passed. Values are only ever compared within one protocol (reference records older than protocols
    read as OneGAN's)."""
    ref, new = aggregate(reference), aggregate(measured)
    rows, ok = [], True
    for key in sorted(ref):
        protocol, dataset, method, variant, metric = key
        if metric not in SCORED_METRICS:
            continue
        ref_value = ref[key][0]
        kind, tol = TOLERANCES[metric]
        allowed = tol if kind == "abs" else tol * abs(ref_value)
        if key not in new:
            rows.append([protocol, method, variant, metric, ref_value, None, allowed, "MISSING"])
            ok = False
            continue
        value = new[key][0]
        worse_by = (ref_value - value) if HIGHER_IS_BETTER[metric] else (value - ref_value)
        status = "ok" if worse_by <= allowed + 1e-12 else "REGRESSED"
        if worse_by < -allowed:
            status = "improved"
        ok &= status != "REGRESSED"
        rows.append([protocol, method, variant, metric, ref_value, value, allowed, status])
    return rows, ok


def check(update: bool = False, reference: Path = REFERENCE, work: str | Path | None = None,
          seeds: str = "0") -> int:
    """The API behind ``bench check``: 0 when nothing regressed, 1 otherwise."""
    work_dir = Path(work) if work else Path(tempfile.mkdtemp(prefix="bench-check-"))
    out = work_dir / "results"
    if out.exists():
        shutil.rmtree(out)
    run(task="all", dataset="synthetic", preset="smoke", seeds=seeds, out=out, work=work_dir, figures=False,
        device="cpu")
    measured = read_jsonl(out / "records.jsonl")
    if update:
        with atomic_path(reference) as tmp:
            shutil.copyfile(out / "records.jsonl", tmp)
        print(f"reference rewritten: {reference} ({len(measured)} records)")
        return 0
    if not reference.exists():
        print(f"no reference records at {reference}; create them with `bench check --update`")
        return 1
    rows, ok = compare(read_jsonl(reference), measured)
    headers = ["protocol", "method", "variant", "metric", "reference", "measured", "allowed", "status"]
    print(tabulate(rows, headers=headers, floatfmt=".4g"))
    print("bench check: " + ("no regression" if ok else "REGRESSION (see rows marked REGRESSED/MISSING)"))
    return 0 if ok else 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--update", action="store_true", help="rewrite results/reference from this run")
    parser.add_argument("--work", default=None, help="work directory (default: a fresh temporary one)")
    parser.add_argument("--seeds", default="0")


def main(args: argparse.Namespace) -> int:
    return check(update=args.update, work=args.work, seeds=args.seeds)
