"""A real one-node Slurm for the cluster tests (.ci/slurm-up.sh), and the in-process reference run.

The cluster is started once per session and stopped at the end only when this session started it
(a developer's or another suite's running cluster is left alone). The tests skip, saying why, only
when Slurm is not installed here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from slurm_helpers import GRID, REPO, bench  # noqa: E402


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
