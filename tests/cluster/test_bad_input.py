"""Bad input to ``bench run --launcher slurm`` gets one line on stderr and leaves nothing half-written.
(In this process: each case fails before any training, in its checks.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from slurm_helpers import GRID

from benchmark.cli import main


def _one_line_error(capsys, argv: list[str], *words: str) -> None:
    assert main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("bench run: error: "), lines
    for word in words:
        assert word in lines[0], lines[0]


def _argv(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", *GRID, "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--launcher", "slurm",
            *extra]


def _nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists() and not (tmp_path / "work").exists()


def test_unknown_partition(slurm_cluster, tmp_path, capsys):
    _one_line_error(capsys, _argv(tmp_path, "--partition", "no-such-partition"),
                    "no partition 'no-such-partition'", "there are: debug")
    _nothing_written(tmp_path)


def test_slurm_not_running(tmp_path, capsys, monkeypatch):
    conf = tmp_path / "slurm.conf"  # a controller that is not there
    conf.write_text("ClusterName=none\nSlurmctldHost=localhost\nSlurmctldPort=1\nNodeName=localhost\n"
                    "PartitionName=debug Nodes=localhost Default=YES\n")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    _one_line_error(capsys, _argv(tmp_path / "run"), "Slurm does not answer", "slurmctld")
    _nothing_written(tmp_path / "run")


def test_sbatch_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    _one_line_error(capsys, _argv(tmp_path), "sbatch/squeue not found on PATH")
    _nothing_written(tmp_path)


@pytest.mark.parametrize(("flags", "said"), [(["--sbatch", "account=x"], "--sbatch takes long sbatch flags"),
                                             (["--parallel", "0"], "--parallel must be at least 1"),
                                             (["--time-limit", "0"], "--time-limit is in minutes")])
def test_bad_launcher_flags(tmp_path, capsys, flags, said):
    _one_line_error(capsys, _argv(tmp_path, *flags), said)
    _nothing_written(tmp_path)


def test_sbatch_flags_parse():
    from core.launching import parse_sbatch_flags

    assert parse_sbatch_flags("--account=abc --qos high --exclusive --gres=gpu:2") == {
        "account": "abc", "qos": "high", "exclusive": True, "gres": "gpu:2"}


def test_a_filesystem_without_working_locks(tmp_path, capsys, monkeypatch):
    import errno

    import core.locking

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(core.locking.fcntl, "flock", no_locks)
    argv = ["run", *GRID, "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--launcher", "local"]
    _one_line_error(capsys, argv, "cannot lock", "No locks available", "working flock locks")
    assert not (tmp_path / "out" / "records.jsonl").exists()
