"""scripts/gpu_step_study.py runs on CPU (it is run on a lent GPU only now and then, so it must not rot),
labels its CPU output a smoke run, and its checks hold there: FusedLayerNorm within float tolerance of
GroupNorm, the graph-ready step equal to the eager one in both phases."""

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gpu_step_study_smoke_run_on_cpu(tmp_path):
    done = subprocess.run([sys.executable, "scripts/gpu_step_study.py", "--device", "cpu", "--preset", "smoke",
                           "--rounds", "1", "--steps", "1", "--profile-steps", "1", "--threads", "1",
                           "--paths", "old,fused-lnorm+graphs", "--out-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = (tmp_path / "cpu_smoke_smoke.txt").read_text().splitlines()
    assert report[0].startswith("# CPU SMOKE RUN") and "NOT a measurement" in report[0]
    lnorm = [line for line in report if line.lstrip().startswith("LNorm (")]
    assert len(lnorm) == 4
    for line in lnorm:
        diffs = [float(v) for v in re.findall(r"(?:y|dx|dgamma|dbeta) ([0-9.e+-]+)", line)]
        assert len(diffs) == 4 and max(diffs) < 1e-5, line  # relative to GroupNorm's largest value
    graph = [line for line in report if "captured step vs eager" in line]
    assert len(graph) == 2 and all("difference 0.00e+00" in line for line in graph)
    rows = [json.loads(line) for line in (tmp_path / "cpu_smoke_smoke.jsonl").read_text().splitlines()]
    assert [(r["phase"], r["path"]) for r in rows] == [
        ("phase I", "old"), ("phase I", "fused-lnorm+graphs"), ("phase II", "old"), ("phase II", "fused-lnorm+graphs")]
    assert all(r["smoke"] and r["it_per_s"] > 0 and r["kernel_s_per_step"] is None and not r["captured"] for r in rows)
