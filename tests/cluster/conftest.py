"""A real one-node Slurm for the cluster tests (.ci/slurm-up.sh), and helpers to run ``bench``.

The cluster is started once per session and stopped at the end only when this session started it
(a developer's or another suite's running cluster is left alone). The tests skip, saying why, only
when Slurm is not installed here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    if shutil.which("slurmctld") is None and not Path("/usr/sbin/slurmctld").exists():
        pytest.skip("Slurm is not installed here (apt-get install slurm-wlm munge; .ci/slurm-up.sh starts it)")
    already = subprocess.run(["sinfo", "-h"], capture_output=True).returncode == 0
    up = subprocess.run([str(REPO / ".ci" / "slurm-up.sh")], capture_output=True, text=True, timeout=180)
    assert up.returncode == 0, f"could not start the one-node Slurm:\n{up.stdout}\n{up.stderr}"
    yield
    if not already:
        subprocess.run([str(REPO / ".ci" / "slurm-down.sh")], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def inprocess_grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: GRID run in-process (the default launcher), its results directory."""
    root = tmp_path_factory.mktemp("inprocess")
    done = bench("run", *GRID, "--out", str(root / "out"), "--work", str(root / "work"))
    assert done.returncode == 0, done.stderr[-3000:]
    return root
