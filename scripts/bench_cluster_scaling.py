"""The same small grid in-process (one cell after another) and through Slurm (2 cells at once), side by
side in one run, one thread per cell; writes a report with the speed-up and where the rest goes.

    python scripts/bench_cluster_scaling.py --preset tiny --methods redo,iic-seg --seeds 0,1 \
        --out results/studies/cluster/scaling_tiny.txt

Needs a running Slurm (.ci/slurm-up.sh) with at least 2 CPUs. Each launch gets its own work and
results folders (nothing shared but the prepared dataset), and the records of both are checked equal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench(args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "benchmark.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"bench {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.monotonic() - start


def values(out: Path) -> dict:
    rows = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    return {(r["method"], r["variant"], r["task"], r["metric"], r["seed"]): r["value"] for r in rows}


def job_began(log: Path) -> float:
    """The time of submitit's first log line in a job (``submitit INFO (2026-12-02 11:58:43,156) - ...``)."""
    import datetime

    for line in log.read_text().splitlines():
        if line.startswith("submitit INFO ("):
            stamp = line[len("submitit INFO ("):].split(")", 1)[0]
            parsed = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
            return parsed.replace(tzinfo=datetime.UTC).timestamp()
    raise ValueError(f"no submitit line in {log}")


def job_lines(cells: list[dict], submitted: float) -> list[str]:
    """Per array task: Slurm + python start (submission, or the end of the task before it in its slot,
    to submitit's first log line), imports and unpickling (to its first cell's start), and the gaps
    between its cells when it runs several."""
    tasks: dict[str, list[dict]] = {}
    for cell in sorted(cells, key=lambda c: c["started"]):
        tasks.setdefault(cell["job_id"], []).append(cell)
    ends = {job: run[-1]["ended"] for job, run in tasks.items()}
    lines = []
    for job, run in sorted(tasks.items(), key=lambda item: item[1][0]["started"]):
        began = run[0]["job_began"]
        before = max((end for other, end in ends.items() if other != job and end <= began), default=submitted)
        between = [b["started"] - a["ended"] for a, b in zip(run, run[1:], strict=False)]
        names = ", ".join(f"{c['method']} seed {c['seed']}" for c in run)
        lines.append(f"    task {job} ({names}): "
                     f"{began - before:.1f} s / {run[0]['started'] - began:.1f} s"
                     + (f"; between its cells {', '.join(f'{g:.1f}' for g in between)} s" if between else ""))
    return lines


def best_split(seconds: list[float]) -> float:
    """The shortest span two slots can run these cells in (brute force over the splits)."""
    import itertools

    total = sum(seconds)
    return min(max(side_a := sum(s for s, side in zip(seconds, split, strict=True) if side), total - side_a)
               for split in itertools.product((0, 1), repeat=len(seconds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--methods", default="redo,iic-seg")
    parser.add_argument("--task", default="segmentation")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--cells-per-job", type=int, default=1, help="passed to the Slurm launch")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cluster-scaling-"))
    grid = ["--preset", args.preset, "--task", args.task, "--methods", args.methods, "--seeds", args.seeds,
            "--no-figures"]
    # the prepared dataset once (not timed): both launches read the same directory
    sys.path.insert(0, str(REPO))
    from benchmark.presets import get_preset
    from benchmark.run import prepare_dataset

    data = prepare_dataset("synthetic", get_preset(args.preset), root / "data").root
    grid += ["--dataset", str(data)]
    load_before = os.getloadavg()
    inprocess = bench(["run", *grid, "--out", str(root / "a" / "out"), "--work", str(root / "a" / "work")])
    slurm = bench(["run", *grid, "--out", str(root / "b" / "out"), "--work", str(root / "b" / "work"),
                   "--launcher", "slurm", "--parallel", "2", "--cpus", "1", "--poll-s", "1",
                   "--cells-per-job", str(args.cells_per_job)])
    load_after = os.getloadavg()
    assert values(root / "a" / "out") == values(root / "b" / "out"), "the two launches recorded different values"

    records = [json.loads(line) for line in (root / "a" / "out" / "records.jsonl").read_text().splitlines()]
    per_cell: dict[tuple, float] = {}
    for r in records:
        key = (r["method"], r["seed"], r["task"])
        per_cell[key] = r["options"].get("train_or_load_seconds", 0.0) + r["wall_time_s"]
    jobs = root / "b" / "out" / "jobs"
    cells = [json.loads(p.read_text()) for p in sorted((jobs / "cells").glob("*.json"))]
    submitted = min(c["submitted"] for c in cells)
    first_start = min(c["started"] for c in cells)
    last_end = max(c["ended"] for c in cells)
    for cell in cells:  # when submitit began in the job (its log's first line): before it, Slurm and python
        cell["job_began"] = job_began(jobs / cell["job_id"] / f"{cell['job_id']}_0_log.out")
    in_array_order = sorted(cells, key=lambda c: (int(c["job_id"].split("_")[1]), c.get("position", 0)))
    lines = [
        f"# bench_cluster_scaling: {args.preset} grid ({args.methods}; seeds {args.seeds}; task {args.task}; "
        f"--cells-per-job {args.cells_per_job}), "
        f"one thread per cell, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC",
        f"# load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (other processes share the machine "
        "when it is above ~0)",
        f"in-process, one cell after another: {inprocess:8.1f} s wall (cells' own train+score: "
        f"{sum(per_cell.values()):.1f} s)",
        f"slurm, 2 cells at once:             {slurm:8.1f} s wall",
        f"speed-up: {inprocess / slurm:.2f}x",
        "where the rest goes (slurm run):",
        f"  submission to the first cell's start (sbatch, scheduling, python + torch import in the job): "
        f"{first_start - submitted:.1f} s",
        f"  cells running (first start to last end): {last_end - first_start:.1f} s",
        f"  after the last cell (the parent's poll, table, process exit): "
        f"{slurm - (last_end - submitted) :.1f} s including the parent's own start-up and dataset load",
        "  array order (longest first): " + ", ".join(f"{c['method']} seed {c['seed']}" for c in in_array_order),
        "  per cell (cell start to end): " + ", ".join(
            f"{c['method']} seed {c['seed']} {c['ended'] - c['started']:.1f} s" for c in cells),
        "  per array task: Slurm + python start (submission or the previous task's end to submitit's first "
        "log line) / imports and unpickling (to its first cell's start):",
        *job_lines(cells, submitted),
        f"  busy slot time (cells only): {sum(c['ended'] - c['started'] for c in cells):.1f} s over 2 slots; "
        f"best split of the cells' own times: {best_split([c['ended'] - c['started'] for c in cells]):.1f} s",
        "records: equal values in both launches",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
