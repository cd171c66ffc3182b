"""`bench curve`: snapshots of one resumable run per seed, floors, a longer budget list extends the run."""

from __future__ import annotations

import json

import pytest

from benchmark.curve import run_curve, snapshot_figures
from benchmark.curve_plot import curve_points, plot_curves
from core.atomic import read_jsonl
from core.errors import UserError

FAST = ("segmentation", "clustering")  # generation needs the evaluator: scored once, at the end


def test_curve_records_snapshots_resumes_and_extends(tmp_path):
    out, work = tmp_path / "curves", tmp_path / "work"
    records_file = run_curve("smoke", seeds=(0,), budgets=(22, 26), out=out, work=work, tasks=FAST)
    first = read_jsonl(records_file)
    iou = sorted((r["options"]["iteration"], r["options"]["cpu_minutes"]) for r in first
                 if r["method"] == "onegan" and r["metric"] == "iou")
    assert [it for it, _ in iou] == [22, 26] and 0 < iou[0][1] < iou[1][1]   # CPU time accumulates
    floors = {(r["method"], r["metric"]) for r in first if r["method"] != "onegan"}
    assert {("centred-box", "iou"), ("kmeans-colour", "acc"), ("kmeans-colour", "parent_nmi")} <= floors
    assert {"parent_acc", "iou", "nmi"} <= {r["metric"] for r in first if r["method"] == "onegan"}
    run_dir = work / "curves"
    cpu_log = json.loads(next(run_dir.rglob("curve_cpu.json")).read_text())
    assert set(cpu_log) == {"22", "26"}

    # The same budgets again: nothing new. A larger budget: the run continues from 26 to 30 only.
    assert len(read_jsonl(run_curve("smoke", seeds=(0,), budgets=(22, 26), out=out, work=work, tasks=FAST))) == \
        len(first)
    run_curve("smoke", seeds=(0,), budgets=(22, 26, 30), out=out, work=work, tasks=FAST)
    records = read_jsonl(records_file)
    keys = [(r["method"], r["variant"], r["seed"], r["metric"]) for r in records]
    assert len(keys) == len(set(keys))
    points = curve_points(records)["iou"][0]
    assert [p[0] for p in points] == [22, 26, 30]
    assert json.loads(next(run_dir.rglob("curve_cpu.json")).read_text()).keys() == {"22", "26", "30"}
    snapshots = sorted(p.name for p in run_dir.rglob("snapshot_*.pt"))
    assert snapshots == ["snapshot_0000022.pt", "snapshot_0000026.pt", "snapshot_0000030.pt"]
    # A task added later is scored on the kept snapshot of each budget, without training.
    before = next(run_dir.rglob("checkpoint.pt")).stat().st_mtime_ns
    run_curve("smoke", seeds=(0,), budgets=(26,), out=out, work=work)
    assert next(run_dir.rglob("checkpoint.pt")).stat().st_mtime_ns == before
    diversity = [r for r in read_jsonl(records_file) if r["metric"] == "diversity"]
    assert len(diversity) == 1 and diversity[0]["options"]["iteration"] == 26 and diversity[0]["value"] > 0
    figures = snapshot_figures("smoke", work, 0, 26, tmp_path / "figures")
    assert {p.name for p in figures} >= {"onegan_generation.png", "onegan_reconstruction.png"}
    png = plot_curves(records_file, tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_budget_before_real_reconstruction_is_refused(tmp_path):
    with pytest.raises(UserError, match="before real reconstruction"):
        run_curve("smoke", seeds=(0,), budgets=(5,), out=tmp_path / "o", work=tmp_path / "w")


def test_curve_methods_go_through_the_contract_only():
    """Each curve method is its module's contract functions (core.contract.CurveRun's docstring), and
    benchmark/curve_runs.py imports nothing inside a function (it does not reach around the contract)."""
    import ast
    import inspect

    from benchmark import curve_runs

    for method in curve_runs.CURVE_METHODS.values():
        module = inspect.getmodule(method.start)
        assert (method.start, method.load, method.snapshot_cpu) == (
            module.start_curve, module.load, module.curve_snapshot_cpu), method.name
        assert callable(module.curve_config) and method.name in {"onegan", "finegan"}
    tree = ast.parse(inspect.getsource(curve_runs))
    inner = [node for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
             for node in ast.walk(fn) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert inner == []
