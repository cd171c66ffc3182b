"""Preemption and jobs that die: a training cell signalled with submitit's checkpoint signal (USR2) is
requeued and resumes to the weights an uninterrupted run reaches; a cell killed without a word
(SIGKILL, as the OOM killer does) is reported failed with its log and resubmitted by the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import torch
from slurm_helpers import GRID, bench, recorded_values, registry, wait_until

from onegan.checkpoint import load_checkpoint

ONEGAN_ONLY = [*GRID[:4], "--methods", "onegan", "--seeds", "0", "--no-figures"]


def _run_dir(work: Path) -> Path:
    return next((work / "checkpoints").glob("*/smoke/seed0/onegan"))


def _trained_iterations(work: Path) -> int:
    """The last iteration in the OneGAN cell's loss log (0 before training starts)."""
    logs = list((work / "checkpoints").glob("*/smoke/seed0/onegan/losses.jsonl"))
    lines = logs[0].read_text().splitlines() if logs else []
    return json.loads(lines[-1])["iteration"] if lines else 0


def _job(out: Path) -> str:
    (entry,) = registry(out).values()
    return entry["job_id"]


def _assert_same_weights(a: Path, b: Path) -> None:
    first, second = load_checkpoint(a), load_checkpoint(b)
    assert first["iteration"] == second["iteration"] == 30
    for part in ("model", "discriminators"):
        for key, tensor in first[part].items():
            assert torch.equal(tensor, second[part][key]), f"{part}.{key} differs from the uninterrupted run"


def test_usr2_requeues_and_resumes_to_the_uninterrupted_weights(slurm_cluster, inprocess_grid, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    args = ["run", *ONEGAN_ONLY, "--out", str(out), "--work", str(work), "--launcher", "slurm", "--poll-s", "0.5"]
    submitted = bench(*args, "--no-wait")
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    assert "submitted 1 cell(s)" in submitted.stdout
    job = _job(out)
    # Past the first checkpoint (iteration 10 of 30), well before the end: Slurm's warning signal.
    wait_until(lambda: 10 <= _trained_iterations(work) < 25, 120, "OneGAN to train past iteration 10", every=0.1)
    signalled = subprocess.run(["scancel", "--signal=USR2", job], capture_output=True, text=True)
    assert signalled.returncode == 0, signalled.stderr
    again = bench(*args, "--no-wait")  # requeued (queued) or running again: never submitted twice
    assert again.returncode == 0 and "nothing to submit" in again.stdout, again.stdout + again.stderr
    status = bench("status", "--out", str(out))  # requeued: queued (start delay) or running again
    line = next(ln.strip() for ln in status.stdout.splitlines() if ln.strip().startswith("OneGAN seed 0"))
    assert line.startswith((f"OneGAN seed 0: queued (job {job}", f"OneGAN seed 0: running (job {job}",
                            "OneGAN seed 0: done")), line
    finished = bench(*args)  # waits for the requeued job; submits nothing
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "nothing to submit" in finished.stdout
    (entry,) = registry(out).values()
    assert entry["starts"] == 2 and entry["state"] == "finished" and entry["job_id"] == job
    _assert_same_weights(_run_dir(work), _run_dir(inprocess_grid / "work"))
    reference = {k: v for k, v in recorded_values(inprocess_grid / "out").items() if k[0] == "onegan"}
    assert recorded_values(out) == reference


def test_a_cell_killed_without_a_word_is_reported_and_resubmitted(slurm_cluster, inprocess_grid, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    args = ["run", *ONEGAN_ONLY, "--out", str(out), "--work", str(work), "--launcher", "slurm", "--poll-s", "0.5"]
    assert bench(*args, "--no-wait").returncode == 0
    job = _job(out)
    wait_until(lambda: 10 <= _trained_iterations(work) < 25, 120, "OneGAN to train past iteration 10", every=0.1)
    (entry,) = registry(out).values()
    os.kill(entry["pid"], signal.SIGKILL)  # as the OOM killer does: the cell's process, no word said
    wait_until(lambda: job not in subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True,
                                                 text=True).stdout.split(), 60, "the killed job to leave the queue")
    status = bench("status", "--out", str(out))
    assert status.returncode == 0, status.stderr
    line = next(ln.strip() for ln in status.stdout.splitlines() if ln.strip().startswith("OneGAN seed 0"))
    assert line.startswith(f"OneGAN seed 0: failed (job {job} ended without a result"), line
    assert f"log {out / 'jobs'}" in line
    assert status.stdout.splitlines()[-1] == "total: 1 failed (1 cells)"
    rerun = bench(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "submitted 1 cell(s)" in rerun.stdout
    _assert_same_weights(_run_dir(work), _run_dir(inprocess_grid / "work"))
    reference = {k: v for k, v in recorded_values(inprocess_grid / "out").items() if k[0] == "onegan"}
    assert recorded_values(out) == reference
