"""Where a cell stands (benchmark/launch/cells.py), without a scheduler: each state from the evidence
that makes it (records, the cell's lock, the job registry, a dead job), and the --dry-run estimate
against the committed H100 measurement worked by hand."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmark import protocols
from benchmark.grid import PlannedCell, cell_fields
from benchmark.launch.cells import cell_state, update_entry
from benchmark.launch.estimate import onegan_gpu_hours
from benchmark.presets import get_preset
from benchmark.records import RecordStore, make_records
from benchmark.run import prepare_dataset, run
from benchmark.run_context import RunContext
from core.locking import path_lock


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    root = tmp_path_factory.mktemp("cells")
    run(task="segmentation", methods="centred-box", preset="smoke", out=root / "out", work=root / "work",
        figures=False)
    preset = get_preset("smoke")
    return RunContext(preset, prepare_dataset("synthetic", preset, root / "work"), root / "work",
                      RecordStore(root / "out"), "cpu", False, protocol=protocols.get(protocols.DEFAULT))


BOX = PlannedCell("centred-box", None, 0, ("segmentation",))
ONEGAN = PlannedCell("onegan", None, 0, ("segmentation",))


def test_done_and_to_do(ctx):
    assert cell_state(ctx, BOX, {}).kind == "done"
    state = cell_state(ctx, ONEGAN, {})
    assert (state.kind, state.needs_submitting) == ("to do", True)


def test_a_held_cell_lock_is_running(ctx):
    with path_lock(ctx.store.claim_target(cell_fields(ctx, "onegan", None, 0)), "a test"):
        state = cell_state(ctx, ONEGAN, {})
    assert state.kind == "running" and not state.needs_submitting
    assert cell_state(ctx, ONEGAN, {}).kind == "to do"  # the lock dies with its holder


def test_registry_states(ctx):
    name = cell_state(ctx, ONEGAN, {}).name
    out = ctx.store.out_dir
    update_entry(out, name, state="submitted", job_id="41_0", launcher="slurm", stderr=str(out / "41_0.err"))
    assert cell_state(ctx, ONEGAN, {"41_0": "PENDING"}).kind == "queued"
    assert cell_state(ctx, ONEGAN, {"41_0": "RUNNING"}).kind == "running"
    (out / "41_0.err").write_text("training...\n/bin/sh: line 1: 123 Killed python -u -m submitit\n")
    gone = cell_state(ctx, ONEGAN, {})  # the job left the queue without a record: died without a word
    assert gone.kind == "failed" and gone.needs_submitting
    assert gone.detail.startswith("job 41_0 ended without a result") and "Killed" in gone.detail
    assert gone.log == str(out / "41_0.err")
    update_entry(out, name, state="failed", error="RuntimeError: CUDA out of memory")
    assert cell_state(ctx, ONEGAN, {}).detail == "RuntimeError: CUDA out of memory"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    update_entry(out, name, state="running", job_id=str(dead.pid), launcher="local")
    assert cell_state(ctx, ONEGAN, None).kind == "failed"  # a local job whose process is gone
    (out / "jobs" / "cells" / f"{name}.json").unlink()


def test_cut_short_records_resume(ctx):
    base = cell_fields(ctx, "onegan", None, 0)
    ctx.store.append(make_records(method="onegan", variant=None, dataset="synthetic",
                                  dataset_fingerprint=base["dataset_fingerprint"], task="segmentation",
                                  values={"iou": 0.1, "dice": 0.2}, seed=0, preset=base["preset"], config=None,
                                  checkpoint=None, wall_time_s=1.0, protocol=base["protocol"],
                                  progress={"iterations_trained": 12, "iterations_planned": 30, "cut_short": True,
                                            "resumable": True}))
    state = cell_state(ctx, ONEGAN, {})
    assert state.kind == "cut short" and "12/30" in state.detail and state.needs_submitting


def test_gpu_hours_from_the_committed_measurement():
    # results/studies/speed/bench_onegan_speed_paper_h100.txt: phase I 2414.88 GFLOP/step at 27764.84 GFLOP/s, phase II
    # 7348.43 at 32180.01; the paper schedule: phase I to 200k, then phase II to 600k.
    phase_one, phase_two = 2414.88 / 27764.84, 7348.43 / 32180.01   # seconds per step
    assert onegan_gpu_hours("paper", None, None) == pytest.approx((200_000 * phase_one + 400_000 * phase_two) / 3600)
    assert onegan_gpu_hours("paper", "phase1-only", None) == pytest.approx(600_000 * phase_one / 3600)
    assert onegan_gpu_hours("paper", "no-multi-phase", None) == pytest.approx(600_000 * phase_two / 3600)
    assert onegan_gpu_hours("paper", None, 60_000) == pytest.approx(onegan_gpu_hours("paper", None, None) / 10)
