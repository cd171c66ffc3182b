"""Atomic writes leave the old output or the new one, never a mix."""

from __future__ import annotations

import pytest

from data_prep.atomic import append_jsonl, atomic_directory, atomic_path, read_jsonl, write_json_atomic


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
