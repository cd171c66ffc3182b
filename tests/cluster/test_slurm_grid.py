"""``bench run --launcher slurm|local`` against a real one-node Slurm: the same records as the
in-process run, cells side by side, nothing submitted twice, and ``bench status``."""

from __future__ import annotations

from pathlib import Path

from slurm_helpers import GRID, bench, recorded_values, registry


def test_slurm_grid_records_equal_inprocess_and_cells_run_at_once(slurm_cluster, inprocess_grid, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    done = bench("run", *GRID, "--out", str(out), "--work", str(work), "--launcher", "slurm", "--parallel", "2",
                 "--poll-s", "0.5")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "submitted 2 cell(s)" in done.stdout and "as job array" in done.stdout
    assert recorded_values(out) == recorded_values(inprocess_grid / "out")
    cells = registry(out)
    assert len(cells) == 2 and all(c["state"] == "finished" and c["starts"] == 1 for c in cells.values())
    assert len({c["job_id"].split("_")[0] for c in cells.values()}) == 1, "one job array"
    first, second = cells.values()
    assert first["started"] < second["ended"] and second["started"] < first["ended"], "the two cells overlapped"

    again = bench("run", *GRID, "--out", str(out), "--work", str(work), "--launcher", "slurm")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to submit" in again.stdout
    assert registry(out) == cells
    assert recorded_values(out) == recorded_values(inprocess_grid / "out")  # no duplicate either


def test_local_launcher_records_equal_inprocess(inprocess_grid, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    done = bench("run", *GRID, "--out", str(out), "--work", str(work), "--launcher", "local", "--poll-s", "0.5")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "as local processes" in done.stdout
    assert recorded_values(out) == recorded_values(inprocess_grid / "out")
    assert all(c["launcher"] == "local" and c["state"] == "finished" for c in registry(out).values())


def test_status_of_an_inprocess_run(inprocess_grid: Path):
    done = bench("status", "--out", str(inprocess_grid / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert "OneGAN seed 0: done (segmentation)" in lines, done.stdout
    assert "centred box seed 0: done (segmentation)" in lines, done.stdout
    assert lines[-1] == "total: 2 done (2 cells)"
    nothing = bench("status", "--out", str(inprocess_grid / "nothing-here"))
    assert nothing.returncode == 2 and nothing.stderr.count("\n") == 1 and "no bench run has planned" in nothing.stderr


def test_cells_per_job_runs_the_grid_in_one_task_with_the_same_records(slurm_cluster, inprocess_grid, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    done = bench("run", *GRID, "--out", str(out), "--work", str(work), "--launcher", "slurm", "--cells-per-job", "2",
                 "--poll-s", "0.5")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "submitted 2 cell(s) in 1 job of up to 2" in done.stdout, done.stdout
    assert recorded_values(out) == recorded_values(inprocess_grid / "out")
    cells = registry(out)
    assert {c["job_id"] for c in cells.values()} == {next(iter(cells.values()))["job_id"]}, "one array task"
    assert sorted(c["position"] for c in cells.values()) == [0, 1]
    first, second = sorted(cells.values(), key=lambda c: c["position"])
    assert first["ended"] <= second["started"], "a task's cells run one after another"
    assert all(c["state"] == "finished" and c["starts"] == 1 for c in cells.values())
