"""`bench curve --method finegan`: one resumable GAN run, encoders fitted per budget, same records as OneGAN's."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from baselines import encoder_fitting, finegan
from baselines.finegan import FineGANConfig, train
from baselines.gan_training import load_checkpoint
from benchmark.curve import run_curve, summary_markdown
from benchmark.curve_plot import curve_methods, curve_points, plot_curves
from benchmark.presets import get_preset
from benchmark.run import prepare_dataset
from core.atomic import read_jsonl
from core.contract import TrainRequest

FAST = ("segmentation", "clustering")  # generation needs the evaluator
BUDGETS = (3, 6)                       # smoke: GAN checkpoints every 3 iterations, encoders fitted for 4
NETWORKS = ("generator", "discriminators", "encoders")


def _curve(tmp_path, name, tasks=FAST):
    out, work = tmp_path / name / "out", tmp_path / name / "work"
    records = run_curve("smoke", seeds=(0,), budgets=BUDGETS, out=out, work=work, tasks=tasks, method="finegan")
    return records, next((work / "curves").rglob("finegan"))


def _snapshot(run_dir, budget):
    return load_checkpoint(run_dir / f"snapshot_{budget:07d}.pt", "finegan")


def _assert_same_networks(a: dict, b: dict) -> None:
    for name in NETWORKS:
        assert a[name].keys() == b[name].keys()
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), f"{name}.{key} differs"


def test_finegan_curve_records_each_budget_keeps_snapshots_and_skips_recorded(tmp_path):
    records_file, run_dir = _curve(tmp_path, "curve")
    records = [r for r in read_jsonl(records_file) if r["method"] == "finegan"]
    assert {r["variant"] for r in records} == {"@3", "@6"}
    assert {r["preset"] for r in records} == {"curve:smoke"}
    assert {"iou", "acc", "nmi", "parent_acc", "parent_nmi"} <= {r["metric"] for r in records}
    assert all(r["options"]["iteration"] == int(r["variant"][1:]) for r in records)
    assert all(set(r["config"]) == {"finegan", "run_preset"} for r in records)
    assert {r["config"]["finegan"]["iterations"] for r in records} == {6}
    # CPU: the GAN's, accumulated over the one run, plus that budget's own encoder fitting.
    gan_cpu = json.loads((run_dir / "curve_cpu.json").read_text())
    fit_cpu = json.loads((run_dir / "curve_fit_cpu.json").read_text())
    assert set(gan_cpu) == set(fit_cpu) == {"3", "6"} and 0 < gan_cpu["3"] < gan_cpu["6"]
    for r in records:
        budget = r["variant"][1:]
        assert r["options"]["cpu_minutes"] == round((gan_cpu[budget] + fit_cpu[budget]) / 60, 3)
    # The kept snapshots: the GAN stopped at the budget, the encoders fitted for the preset's iterations.
    encoder_iterations = FineGANConfig.preset("smoke").encoders.iterations
    for budget in BUDGETS:
        state = _snapshot(run_dir, budget)
        assert (state["gan_iteration"], state["encoder_iteration"]) == (budget, encoder_iterations)
    gan_state = load_checkpoint(run_dir / "gan" / "checkpoint.pt", "finegan")
    assert (gan_state["gan_iteration"], gan_state["encoder_iteration"]) == (6, 0)   # the GAN run is never fitted

    # Again: nothing trained, nothing recorded.
    before = (run_dir / "gan" / "checkpoint.pt").stat().st_mtime_ns
    count = len(read_jsonl(records_file))
    _curve(tmp_path, "curve")
    assert len(read_jsonl(records_file)) == count
    assert (run_dir / "gan" / "checkpoint.pt").stat().st_mtime_ns == before


class _Killed(Exception):
    pass


def _kill_on_call(monkeypatch, owner, attr: str, call: int) -> None:
    """Make ``owner.attr`` raise on its ``call``-th call (a kill at that point of the run)."""
    original, calls = getattr(owner, attr), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise _Killed(attr)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, attr, wrapper)


def test_finegan_curve_killed_and_resumed_matches_a_straight_run_and_bench_train(tmp_path, monkeypatch):
    _, straight = _curve(tmp_path, "straight")

    # Killed in the GAN between its checkpoint at 3 and budget 6, then in budget 6's encoder fitting.
    with monkeypatch.context() as patch:
        _kill_on_call(patch, finegan._Run, "gan_step", 5)
        with pytest.raises(_Killed):
            _curve(tmp_path, "killed")
    with monkeypatch.context() as patch:
        _kill_on_call(patch, encoder_fitting, "encoder_step", 2)
        with pytest.raises(_Killed):
            _curve(tmp_path, "killed")
    records_file, resumed = _curve(tmp_path, "killed")
    keys = [(r["method"], r["variant"], r["metric"]) for r in read_jsonl(records_file)]
    assert len(keys) == len(set(keys))
    assert [p[0] for p in curve_points(read_jsonl(records_file), "finegan")["iou"][0]] == [3, 6]
    for budget in BUDGETS:
        _assert_same_networks(_snapshot(resumed, budget), _snapshot(straight, budget))

    # The GAN went on from its own state, not the fitted one: budget 6 is exactly FineGAN∗ trained for 6.
    prepared = prepare_dataset("synthetic", get_preset("smoke"), tmp_path / "straight" / "work")
    alone = train(TrainRequest(data=prepared.root, out=tmp_path / "alone", seed=0),
                  dataclasses.replace(FineGANConfig.preset("smoke"), iterations=6))
    _assert_same_networks(load_checkpoint(alone, "finegan"), _snapshot(straight, 6))


def _record(method, metric, value, budget=None, cpu=None, seed=0):
    options = {} if budget is None else {"iteration": budget, "cpu_minutes": cpu}
    return {"method": method, "variant": None if budget is None else f"@{budget}", "metric": metric,
            "value": value, "seed": seed, "preset": "curve:tiny", "options": options}


def test_curve_summary_and_plot_show_each_method(tmp_path):
    records = [_record("centred-box", "iou", 48.9), _record("kmeans-colour", "acc", 0.316)]
    for method, budgets in (("finegan", (800, 1600)), ("onegan", (1200,))):
        for i, budget in enumerate(budgets):
            records += [_record(method, "iou", 50.0 + i, budget, 2.0 * (i + 1)),
                        _record(method, "acc", 0.2 + i / 10, budget, 2.0 * (i + 1))]
    assert curve_methods(records) == ["onegan", "finegan"]
    table = summary_markdown(records).split("\n\n")[0].splitlines()
    assert table[0].split("|")[1].strip() == "method"
    rows = [[cell.strip() for cell in line.split("|")[1:4]] for line in table[2:]]
    assert rows == [["OneGAN", "1200", "2.0"], ["FineGAN∗", "800", "2.0"], ["FineGAN∗", "1600", "4.0"],
                    ["floor", "–", "–"]]
    assert "claim (mean − std > floor)" in summary_markdown(records)   # OneGAN's claims stay
    files = []
    for method in ("onegan", "finegan"):
        files.append(tmp_path / method / "records.jsonl")
        files[-1].parent.mkdir()
        files[-1].write_text("".join(json.dumps(r) + "\n" for r in records if r["method"] in (method, "centred-box")))
    assert plot_curves(files, tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curve_summary_with_plot_redraws_from_records_only(tmp_path, capsys):
    """`bench curve --summary --plot PNG` prints the summary and draws the PNG, training nothing."""
    from benchmark.cli import call_subcommand, subcommand_parser

    out = tmp_path / "curves" / "seed0"
    out.mkdir(parents=True)
    records = [_record("centred-box", "iou", 48.9), _record("onegan", "iou", 60.0, 1200, 9.0),
               _record("onegan", "acc", 0.33, 1200, 9.0)]
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    _, parser = subcommand_parser("curve")
    args = parser.parse_args(["--summary", "--out", str(out), "--plot", str(tmp_path / "p.png"),
                              "--work", str(tmp_path / "no-work")])
    assert call_subcommand("curve", args) == 0
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| OneGAN" in capsys.readouterr().out and not (tmp_path / "no-work").exists()
