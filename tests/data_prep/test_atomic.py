"""Atomic writes leave the old output or the new one, never a mix."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from benchmark.cli import main as cli_main
from core.atomic import (
    AtomicWriteError,
    CorruptJsonlError,
    append_jsonl,
    atomic_directory,
    atomic_path,
    bad_lines_path,
    read_jsonl,
    write_json_atomic,
)
from core.locking import lock_path_for, path_lock


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_directory_swaps_whole(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "b").write_text("2")
        raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_directory(target) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_jsonl_skips_truncated_tail(tmp_path):
    log = tmp_path / "r.jsonl"
    append_jsonl(log, {"a": 1})
    append_jsonl(log, {"a": 2})
    with open(log, "a") as fh:
        fh.write('{"a": 3')  # a crash mid-line
    assert read_jsonl(log) == [{"a": 1}, {"a": 2}]
    write_json_atomic(tmp_path / "x.json", {"k": [1, 2]})
    assert (tmp_path / "x.json").read_text().startswith("{")


def test_append_after_crash_keeps_the_new_record_issue_12(tmp_path, capsys):
    """The issue's example: a crash mid-write, then an append, must not lose the new record."""
    log = tmp_path / "r.jsonl"
    log.write_text('{"a": 1}\n{"b": 2')
    append_jsonl(log, {"c": 3})
    assert read_jsonl(log) == [{"a": 1}, {"c": 3}]
    err = capsys.readouterr().err
    assert err.count("truncated last line") == 1 and str(log) in err
    # the cut bytes are kept, not dropped unseen
    assert [r["text"] for r in read_jsonl(bad_lines_path(log))] == ['{"b": 2']
    append_jsonl(log, {"d": 4})  # nothing to repair now: no second message
    assert capsys.readouterr().err == ""
    assert read_jsonl(log) == [{"a": 1}, {"c": 3}, {"d": 4}]


def test_whole_record_without_newline_is_kept(tmp_path):
    log = tmp_path / "r.jsonl"
    log.write_text('{"a": 1}')
    append_jsonl(log, {"b": 2})
    assert read_jsonl(log) == [{"a": 1}, {"b": 2}]


def test_corrupt_interior_line_is_an_error_naming_file_and_line(tmp_path):
    log = tmp_path / "r.jsonl"
    log.write_text('{"a": 1}\n{"a": 2, garbage\n{"a": 3}\n')
    with pytest.raises(CorruptJsonlError, match=r"r\.jsonl:2: corrupt line") as err:
        read_jsonl(log)
    assert "bench records repair" in str(err.value)


def test_records_repair_moves_bad_lines_aside(tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    log = out / "records.jsonl"
    log.write_text('{"a": 1}\nnot json\n{"a": 3}\n{"a": 4')
    assert cli_main(["records", "repair", str(out)]) == 0
    assert "moved 2 corrupt line(s) (line 2, 4)" in capsys.readouterr().out
    assert read_jsonl(log) == [{"a": 1}, {"a": 3}]
    moved = read_jsonl(bad_lines_path(log))
    assert [(m["line"], m["text"]) for m in moved] == [(2, "not json"), (4, '{"a": 4')]
    assert cli_main(["records", "repair", str(log)]) == 0
    assert "nothing to repair" in capsys.readouterr().out


def test_concurrent_appends_never_interleave(tmp_path):
    log = tmp_path / "r.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(log, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    records = read_jsonl(log)
    assert sorted((r["w"], r["i"]) for r in records) == [(w, i) for w in range(3) for i in range(50)]


def _append_many(log, worker: int) -> None:
    for i in range(50):
        append_jsonl(log, {"w": worker, "i": i, "pad": "x" * 5000})


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    target = tmp_path / "run"
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_forever, args=(target, ready))
    holder.start()
    assert ready.wait(30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    assert lock_path_for(target).exists()  # the sidecar stays behind ...
    with path_lock(target, "testing") as waited:  # ... but nothing holds it
        assert waited is False


def _hold_forever(target, ready) -> None:
    with path_lock(target, "holding"):
        ready.set()
        time.sleep(600)


def test_failed_write_keeps_the_old_file_and_says_so_in_one_line(tmp_path):
    import errno

    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"old")
    with pytest.raises(AtomicWriteError) as err, atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert "No space left on device" in str(err.value) and "previous version is intact" in str(err.value)
    assert "\n" not in str(err.value)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_held_lock_is_waited_for_with_a_message_naming_the_holder(tmp_path, capsys):
    target = tmp_path / "run"
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_briefly, args=(target, ready))
    holder.start()
    assert ready.wait(30)
    started = time.monotonic()
    with path_lock(target, "testing") as waited:
        assert waited is True and time.monotonic() - started > 0.2
    holder.join()
    err = capsys.readouterr().err
    assert f"waiting for {target}: pid {holder.pid} is training the thing" in err


def _hold_briefly(target, ready) -> None:
    with path_lock(target, "training the thing"):
        ready.set()
        time.sleep(1.0)
