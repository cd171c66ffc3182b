"""scripts/profile_onegan_step.py runs (it is used only now and then, on a lent GPU, so it must not rot)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_profile_script_reports_step_time_and_convolutions():
    done = subprocess.run([sys.executable, "scripts/profile_onegan_step.py", "--preset", "smoke", "--steps", "1",
                           "--rows", "40", "--threads", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    wall = next(line for line in lines if line.startswith("wall "))
    assert float(wall.split()[1]) > 0
    assert "device kernels 0.000 s/step" in wall  # no GPU kernels on a CPU run
    assert any("convolution" in line for line in lines)
