"""What a record says is what ran: concurrent runs cooperate, cut-short training is marked and
resumed, figures come from the scored models and never train."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from benchmark import presets
from benchmark.run import run
from benchmark.table import table
from core.atomic import read_jsonl
from data_prep.synthetic import write_synthetic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("data") / "syn", classes=4, parents=2, images=80, size=24, seed=0)


def _key(r: dict) -> tuple:
    return (r["method"], r.get("variant") or "", r["seed"], r["metric"], r.get("protocol", ""))


def test_two_concurrent_runs_record_each_cell_once(prepared_dir, tmp_path):
    """Two `bench run` on one results and work directory: no duplicate key, the same records as one run."""
    args = ["run", "--task", "segmentation", "--methods", "centred-box,redo,iic-seg", "--preset", "smoke",
            "--seeds", "0,1", "--dataset", str(prepared_dir), "--no-figures"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    shared = ["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")]
    procs = [subprocess.Popen([sys.executable, "-m", "benchmark.cli", *args, *shared], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outputs]
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    counts = Counter(_key(r) for r in records)
    assert counts and max(counts.values()) == 1, [k for k, n in counts.items() if n > 1]
    # each cell was scored by exactly one of the two processes
    stdout = "".join(out for out, _ in outputs)
    for method in ("centred box", "ReDO", "IIC-seg"):
        for seed in (0, 1):
            assert stdout.count(f"{method} seed {seed} segmentation [") == 1, stdout
    # one thread, as the two processes (OMP_NUM_THREADS=1): float results depend on the thread count,
    # and this test must not rely on an earlier test having left torch on one thread
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run(task="segmentation", dataset=str(prepared_dir), methods="centred-box,redo,iic-seg", preset="smoke",
            seeds="0,1", out=tmp_path / "single", work=tmp_path / "single-work", figures=False)
    finally:
        torch.set_num_threads(threads)
    single = {_key(r): r["value"] for r in read_jsonl(tmp_path / "single" / "records.jsonl")}
    assert {_key(r): r["value"] for r in records} == pytest.approx(single)


@pytest.fixture()
def smoke_cap(monkeypatch):
    """Set the smoke preset's max_minutes (a tiny cap stops training after its first iteration)."""
    def set_cap(minutes: float | None) -> None:
        monkeypatch.setitem(presets.PRESETS, "smoke", dataclasses.replace(presets.PRESETS["smoke"],
                                                                          max_minutes=minutes))
    return set_cap


def test_cut_short_cells_are_marked_and_resumed(prepared_dir, tmp_path, smoke_cap, capsys):
    out, work = tmp_path / "out", tmp_path / "work"
    kwargs = dict(task="segmentation", dataset=str(prepared_dir), methods="onegan,iic-seg", preset="smoke",
                  out=out, work=work, figures=False)
    smoke_cap(1e-9)
    run(**kwargs)
    first = read_jsonl(out / "records.jsonl")
    assert first and all(r["cut_short"] for r in first)
    trained = {r["method"]: (r["iterations_trained"], r["iterations_planned"]) for r in first}
    assert trained == {"onegan": (1, 30), "iic-seg": (1, 10)}
    assert "cut short at 1/30 iterations" in capsys.readouterr().out
    assert "‡" in table(out, "markdown", "2", reported="none")
    # a given checkpoint that stopped early is scored as it is, marked, and not rescored by every run
    given = tmp_path / "given.pt"
    given.write_bytes(next(work.glob("checkpoints/*/*/seed0/onegan/checkpoint.pt")).read_bytes())
    given_kwargs = {**kwargs, "methods": "onegan", "out": tmp_path / "given-out", "checkpoints": {"onegan": given}}
    run(**given_kwargs)
    scored = read_jsonl(tmp_path / "given-out" / "records.jsonl")
    assert scored and all(r["cut_short"] and r["resumable"] is False for r in scored)
    run(**given_kwargs)
    assert len(read_jsonl(tmp_path / "given-out" / "records.jsonl")) == len(scored)
    run(**kwargs)  # not taken as done: resumed (one more iteration each under the cap)
    second = read_jsonl(out / "records.jsonl")[len(first):]
    assert {r["method"]: r["iterations_trained"] for r in second} == {"onegan": 2, "iic-seg": 2}
    smoke_cap(None)
    run(**kwargs)  # finishes the budget from the checkpoint
    third = read_jsonl(out / "records.jsonl")[len(first) + len(second):]
    assert {r["method"]: (r["iterations_trained"], r["cut_short"]) for r in third} == {
        "onegan": (30, False), "iic-seg": (10, False)}
    assert "‡" not in table(out, "markdown", "2", reported="none")
    count = len(read_jsonl(out / "records.jsonl"))
    run(**kwargs)  # now done
    assert len(read_jsonl(out / "records.jsonl")) == count


def test_figures_come_from_the_scored_models_and_never_train(prepared_dir, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    common = dict(task="segmentation", dataset=str(prepared_dir), preset="smoke", figures=True)
    # seeds 1 only: no seed-0 model is trained for figures
    run(methods="onegan,centred-box", seeds="1", out=out, work=work, **common)
    seed_dirs = {p.name for p in work.glob("checkpoints/*/*/seed*")}
    assert seed_dirs == {"seed1"}
    assert (out / "figures" / "onegan_reconstruction.png").exists()
    assert (out / "figures" / "centred-box_segmentation.png").exists()
    checkpoint = next(work.glob("checkpoints/*/*/seed1/onegan/checkpoint.pt"))
    # a given checkpoint is scored and drawn; nothing is trained under the new work directory
    figures = out / "figures" / "onegan_reconstruction.png"
    figures.unlink()
    run(methods="onegan", out=tmp_path / "given", work=tmp_path / "work2", checkpoints={"onegan": checkpoint},
        **common)
    assert not (tmp_path / "work2" / "checkpoints").exists()
    assert (tmp_path / "given" / "figures" / "onegan_reconstruction.png").exists()
    # its records name the file and the config stored in it, not a training request that was not used
    given = [r for r in read_jsonl(tmp_path / "given" / "records.jsonl") if r["method"] == "onegan"]
    stored = json.loads(json.dumps(torch.load(checkpoint, weights_only=True)["config"]))  # tuples as lists
    assert given and all("train_request" not in r["config"] for r in given)
    assert {r["config"]["given_checkpoint"] for r in given} == {str(checkpoint)}
    assert all(r["config"]["checkpoint_config"] == stored for r in given)
    trained = [r for r in read_jsonl(out / "records.jsonl") if r["method"] == "onegan"]
    assert all(r["config"]["train_request"]["seed"] == 1 and "given_checkpoint" not in r["config"] for r in trained)
    # a rerun with every cell recorded draws from the recorded checkpoint, training nothing
    before = sorted(p.stat().st_mtime_ns for p in work.rglob("checkpoint.pt"))
    run(methods="onegan", seeds="1", out=out, work=work, **common)
    assert figures.exists()
    assert sorted(p.stat().st_mtime_ns for p in work.rglob("checkpoint.pt")) == before


def test_a_task_whose_records_were_cut_by_a_crash_is_redone(prepared_dir, tmp_path):
    """A kill in the middle of appending one task's records leaves a prefix of them (found by the
    fault-injection script: the table metrics recorded, the extra ones lost, the cell taken as done)."""
    out = tmp_path / "out"
    kwargs = dict(task="segmentation", dataset=str(prepared_dir), methods="centred-box", preset="smoke",
                  out=out, work=tmp_path / "work", figures=False)
    run(**kwargs)
    lines = (out / "records.jsonl").read_text().splitlines(keepends=True)
    full = read_jsonl(out / "records.jsonl")
    assert len(lines) >= 3 and {r["group_size"] for r in full} == {len(lines)}
    # keep the table metrics only (the old rule took the cell as done then) and cut the rest
    kept = [line for line, r in zip(lines, full, strict=True) if r["metric"] in ("iou", "dice")]
    assert len(kept) == 2
    (out / "records.jsonl").write_text("".join(kept))
    run(**kwargs)
    records = read_jsonl(out / "records.jsonl")
    assert len(records) == 2 + len(full)
    assert {r["metric"] for r in records[2:]} == {r["metric"] for r in full}
    run(**kwargs)  # now complete: nothing more
    assert len(read_jsonl(out / "records.jsonl")) == 2 + len(full)
