"""Fault injection: does a killed or failing run lose, duplicate or corrupt anything?

1. SIGKILL ``bench run --preset smoke`` at random moments, at least ``--kills`` times, resuming each
   time, then let it finish; compare its records with an uninterrupted run's: same keys, same values,
   same count, no duplicate key, no corrupt line.
2. Make a checkpoint write fail part-way (ENOSPC while ``torch.save`` writes, EIO on ``fsync``) inside
   ``bench train``: the previous checkpoint must stay intact and the command must fail with one line.

Prints the figures (kills survived, records lost, duplicates, corrupt lines). Run it niced, e.g.
``nice -n 15 python scripts/fault_injection.py --kills 20 | tee
results/studies/fault_injection/fault_injection.txt``; each
smoke run is about a CPU-minute. Wall times depend on the machine's load and mean little.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ["run", "--preset", "smoke", "--no-figures"]


def _bench(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "benchmark.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)


def _finish(args: list[str]) -> None:
    proc = _bench(args)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"bench {' '.join(args)} failed ({proc.returncode}):\n{err[-3000:]}")


def _records(out: Path) -> tuple[list[dict], int]:
    """The records of ``out`` and how many of its lines are corrupt (interior or tail)."""
    from core.atomic import _parse_lines

    path = out / "records.jsonl"
    records, bad, _ = _parse_lines(path)
    return records, len(bad)


def _key(r: dict) -> tuple:
    return (r["method"], r.get("variant") or "", r["seed"], r["task"], r["metric"], r.get("preset"),
            r.get("protocol", ""))


def _partial(records: list[dict]) -> list[dict]:
    """Records of a task whose group a kill cut short mid-append (the task is redone in full)."""
    counts = Counter(r["group"] for r in records if "group" in r)
    return [r for r in records if "group" in r and counts[r["group"]] < r["group_size"]]


def _effective(records: list[dict]) -> list[dict]:
    """Records a table would use: a cut-short record superseded by a later complete one is dropped, and
    so is the surviving part of a task's records cut by a kill mid-append (its task was redone)."""
    partial = {id(r) for r in _partial(records)}
    records = [r for r in records if id(r) not in partial]
    complete = {_key(r) for r in records if not r.get("cut_short")}
    return [r for r in records if not (r.get("cut_short") and _key(r) in complete)]


def _run_to_completion(out: Path, work: Path) -> None:
    """bench run until no cell is left cut short (max_minutes may stop training on a busy machine)."""
    for _ in range(5):
        _finish([*RUN, "--out", str(out), "--work", str(work)])
        records, _ = _records(out)
        effective = _effective(records)
        if not any(r.get("cut_short") for r in effective):
            return
    raise SystemExit(f"{out}: cells still cut short after 5 runs")


def kill_campaign(scratch: Path, kills: int, seed: int) -> dict:
    rng = random.Random(seed)
    started = time.monotonic()
    _run_to_completion(scratch / "clean-out", scratch / "clean-work")
    clean_seconds = time.monotonic() - started
    print(f"uninterrupted smoke run: {clean_seconds:.0f} s wall", flush=True)

    # A rerun of the finished run: appends nothing, and its wall time is the fixed cost of every restart.
    started = time.monotonic()
    _finish([*RUN, "--out", str(scratch / "clean-out"), "--work", str(scratch / "clean-work")])
    restart_seconds = time.monotonic() - started
    print(f"rerun of the finished run: {restart_seconds:.0f} s wall, "
          f"{len(_records(scratch / 'clean-out')[0])} records (unchanged)", flush=True)

    out, work = scratch / "killed-out", scratch / "killed-work"
    during_work, during_rerun, moments = 0, 0, []
    # Phase A: each resumed run is killed a random moment after its start-up (the restart cost plus an
    # exponential gap averaging half of the work's share per kill), so that about 2x`kills` kills fall
    # while there is work left (data prep, evaluator, training, scoring, appends), until a run finishes
    # on its own. Phase B: if fewer than `kills` kills fell in A, kill reruns of the finished run during
    # their start-up until there were `kills` in all.
    mean_gap = max(clean_seconds - restart_seconds, 1.0) / (2 * kills)
    finished = False
    while not finished or during_work + during_rerun < kills:
        delay = (restart_seconds + rng.expovariate(1.0 / mean_gap) if not finished
                 else rng.uniform(0.5, 0.9 * restart_seconds))
        proc = _bench([*RUN, "--out", str(out), "--work", str(work)])
        try:
            proc.wait(timeout=delay)
            if proc.returncode != 0:
                raise SystemExit(f"resumed run failed ({proc.returncode}):\n{proc.stderr.read()[-3000:]}")
            outcome = "finished before the kill"
            finished = True
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if finished:
                during_rerun += 1
            else:
                during_work += 1
            moments.append(round(delay, 1))
            outcome = f"killed ({during_work} during work, {during_rerun} during a rerun)"
        proc.stderr.close()
        records, corrupt = _records(out) if (out / "records.jsonl").exists() else ([], 0)
        print(f"run at {delay:5.1f} s: {outcome}; {len(records)} records so far, corrupt lines {corrupt}",
              flush=True)
    _run_to_completion(out, work)

    clean, clean_corrupt = _records(scratch / "clean-out")
    killed, killed_corrupt = _records(out)
    clean_eff, killed_eff = _effective(clean), _effective(killed)
    clean_values = {_key(r): r["value"] for r in clean_eff}
    killed_values = {_key(r): r["value"] for r in killed_eff}
    duplicates = sum(n - 1 for n in Counter(_key(r) for r in killed_eff).values() if n > 1)
    lost = len(set(clean_values) - set(killed_values))
    extra = len(set(killed_values) - set(clean_values))
    common = set(clean_values) & set(killed_values)
    differing = sorted(k for k in common if clean_values[k] != killed_values[k])
    return {
        "kills_survived": during_work + during_rerun, "kills_while_work_was_left": during_work,
        "kills_during_a_rerun_of_the_finished_run": during_rerun,
        "kill_moments_s": moments, "uninterrupted_wall_s": round(clean_seconds, 1),
        "restart_wall_s": round(restart_seconds, 1),
        "records_uninterrupted": len(clean_eff), "records_after_kills": len(killed_eff),
        "records_lost": lost, "records_extra": extra, "duplicates": duplicates,
        "corrupt_lines": clean_corrupt + killed_corrupt,
        "partial_task_records_superseded": len(_partial(killed)),
        "cut_short_records_superseded": len(killed) - len(killed_eff) - len(_partial(killed)),
        "values_differing": len(differing),
        "differing_examples": [(list(k), clean_values[k], killed_values[k]) for k in differing[:5]],
    }


# ---- checkpoint write failures -------------------------------------------------------------------------

def _child_with_fault(kind: str, bench_args: list[str]) -> int:
    """Run ``bench`` with the first checkpoint write failing: ``enospc`` part-way through torch.save,
    ``eio`` on the fsync that makes the written file durable."""
    import torch

    from benchmark.cli import main

    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        path = Path(f)
        with open(path, "r+b") as fh:  # keep half of what was written, then the disk is full
            fh.truncate(path.stat().st_size // 2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    real_fsync = os.fsync

    def failing_fsync(fd):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(".checkpoint.pt.") and name.endswith(".tmp"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_fsync(fd)

    if kind == "enospc":
        torch.save = failing_save
    else:
        os.fsync = failing_fsync
    return main(bench_args)


def write_failures(scratch: Path, data: Path | None = None) -> list[dict]:
    data = data or scratch / "clean-work" / "synthetic-6c2p360n32px"
    run_dir = scratch / "train-run"
    # a cap of ~0 minutes saves a checkpoint after every single iteration: each command adds one
    base = ["train", "--data", str(data), "--preset", "smoke", "--out", str(run_dir), "--resume",
            "--max-minutes", "0.000001"]
    _finish(base)
    checkpoint = run_dir / "checkpoint.pt"
    results = []
    for kind in ("enospc", "eio"):
        before = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, __file__, "--child-fault", kind, "--",
                               *base], cwd=ROOT, env=env, capture_output=True, text=True)
        error_lines = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
        after = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
        from onegan.checkpoint import load_checkpoint

        state = load_checkpoint(checkpoint)
        leftovers = sorted(p.name for p in run_dir.iterdir() if p.name.endswith(".tmp"))
        results.append({
            "fault": kind, "exit_code": proc.returncode, "error": error_lines[-1] if error_lines else None,
            "traceback": "Traceback" in proc.stderr, "previous_checkpoint_intact": before == after,
            "checkpoint_loads_at_iteration": state["iteration"], "temporary_files_left": leftovers,
        })
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scratch", type=Path, default=None, help="work directory (default: a temporary one)")
    parser.add_argument("--child-fault", choices=["enospc", "eio"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("bench_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_fault:
        return _child_with_fault(args.child_fault, args.bench_args)
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="fault-injection-") as tmp:
        scratch = args.scratch or Path(tmp)
        print(f"fault injection on `bench {' '.join(RUN)}`, {args.kills} SIGKILLs, seed {args.seed}", flush=True)
        kills = kill_campaign(scratch, args.kills, args.seed)
        print(json.dumps(kills, indent=2))
        failures = write_failures(scratch)
        print(json.dumps(failures, indent=2))
    ok = (kills["records_lost"] == 0 and kills["duplicates"] == 0 and kills["corrupt_lines"] == 0
          and kills["values_differing"] == 0 and kills["records_extra"] == 0
          and all(f["previous_checkpoint_intact"] and f["exit_code"] == 2 and not f["traceback"]
                  for f in failures))
    print(f"kills survived: {kills['kills_survived']}, records lost: {kills['records_lost']}, "
          f"duplicates: {kills['duplicates']}, corrupt lines: {kills['corrupt_lines']}, "
          f"values differing: {kills['values_differing']}; checkpoint write failures: "
          + ", ".join(f"{f['fault']} -> exit {f['exit_code']}, previous checkpoint "
                      f"{'intact' if f['previous_checkpoint_intact'] else 'DAMAGED'}" for f in failures))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
