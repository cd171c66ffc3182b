"""Helpers of the cluster tests: run ``bench`` in a subprocess of this checkout, read records and the
job registry, poll. (A module of its own, not conftest: test modules import these by name.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# A tiny grid at the smoke preset: OneGAN (about 10 s of training on one core) and the centred box.
GRID = ["--preset", "smoke", "--task", "segmentation", "--methods", "onegan,centred-box", "--seeds", "0",
        "--no-figures"]


def bench_env(**extra: str) -> dict[str, str]:
    # one thread everywhere: the float rounding of training depends on the thread count
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **extra}


def bench(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """``bench ARGS`` in a subprocess of this checkout."""
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], cwd=REPO, env=env or bench_env(),
                          capture_output=True, text=True, timeout=timeout)


def recorded_values(out: Path) -> dict[tuple, float]:
    """(method, variant, task, metric, seed, preset) -> value, asserting no duplicate record."""
    values: dict[tuple, float] = {}
    for line in (out / "records.jsonl").read_text().splitlines():
        r = json.loads(line)
        key = (r["method"], r["variant"], r["task"], r["metric"], r["seed"], r["preset"], r["dataset_fingerprint"])
        assert key not in values, f"duplicate record {key}"
        values[key] = r["value"]
    return values


def registry(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "jobs" / "cells").glob("*.json"))}


def wait_until(predicate, timeout: float, what: str, every: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
