"""core.provenance.git_commit: which changes mark a result's code as modified."""

import shutil
import subprocess

import pytest

from core.provenance import git_commit


def _git(repo, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_only_code_changes_make_a_checkout_dirty(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "model.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("# readme\n")
    (tmp_path / "results" / "records.jsonl").write_text("{}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    sha = _git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == sha
    # a run appending to a committed results file, and an edited README, are not code changes
    (tmp_path / "results" / "records.jsonl").write_text("{}\n{}\n")
    (tmp_path / "README.md").write_text("# readme, edited\n")
    (tmp_path / "untracked.py").write_text("y = 2\n")  # untracked files never counted
    assert git_commit(tmp_path) == sha
    (tmp_path / "model.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == sha + "+dirty"
    assert git_commit(tmp_path.parent / "no-such-checkout") == "unknown"


def test_records_name_the_thread_count(tmp_path):
    """The same seed trains different weights on 1 and 2 threads (oneDNN splits its sums by thread),
    so every record says how many threads computed it."""
    import torch

    from benchmark.records import make_records
    from core.provenance import compute_environment

    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            assert compute_environment()["torch_threads"] == threads
            (record,) = make_records(method="m", variant=None, dataset="d", dataset_fingerprint="f", task="t",
                                     values={"iou": 0.5}, seed=0, preset="tiny", config=None, checkpoint=None,
                                     wall_time_s=1.0)
            assert record["compute"]["torch_threads"] == threads
    finally:
        torch.set_num_threads(before)
