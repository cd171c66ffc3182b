"""What a launched grid's cells share (the evaluator classifier, Table 1's Dataset row) is done once, by
the first task of the job array, not by the submitting process (a login node on a cluster); the
records equal the in-process run's, with one Dataset row."""

from __future__ import annotations

from slurm_helpers import bench, recorded_values, registry

# OneGAN is scored on generation (needs the evaluator and the Dataset row), k-means on the evaluator's
# features (needs the evaluator to be built at all)
SHARED_GRID = ["--preset", "smoke", "--task", "all", "--methods", "onegan,kmeans-features", "--seeds", "0",
               "--no-figures"]


def test_the_shared_task_runs_first_in_the_array_and_the_records_equal_inprocess(slurm_cluster, tmp_path):
    here = bench("run", *SHARED_GRID, "--out", str(tmp_path / "a" / "out"), "--work", str(tmp_path / "a" / "work"))
    assert here.returncode == 0, here.stderr[-3000:]
    assert "evaluator classifier" in here.stdout  # in-process: this process trains it

    out, work = tmp_path / "b" / "out", tmp_path / "b" / "work"
    done = bench("run", *SHARED_GRID, "--out", str(out), "--work", str(work), "--launcher", "slurm",
                 "--parallel", "2", "--poll-s", "0.5")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "submitted 2 cell(s) and the shared task first" in done.stdout
    assert "evaluator classifier" not in done.stdout, "the submitting process trained the evaluator"
    assert recorded_values(out) == recorded_values(tmp_path / "a" / "out")
    assert sum(1 for key in recorded_values(out) if key[0] == "dataset" and key[3] == "fid") == 1

    entries = registry(out)
    shared = [entry for name, entry in entries.items() if name.endswith("-shared")]
    assert len(shared) == 1 and shared[0]["state"] == "finished" and shared[0]["job_id"].endswith("_0")
    log = (out / "jobs" / shared[0]["job_id"] / f"{shared[0]['job_id']}_0_log.out")
    assert "evaluator classifier" in log.read_text(), "the shared task did not train the evaluator"
    assert all(entry["state"] == "finished" for entry in entries.values())

    again = bench("run", *SHARED_GRID, "--out", str(out), "--work", str(work), "--launcher", "slurm")
    assert again.returncode == 0 and "nothing to submit" in again.stdout, again.stdout + again.stderr[-2000:]

    status = bench("status", "--out", str(out))
    lines = [line.strip() for line in status.stdout.splitlines()]
    assert "evaluator and Dataset row (shared by the cells): done" in lines, status.stdout
    assert lines[-1] == "total: 2 done (2 cells)", status.stdout  # the shared task is shown, not counted
