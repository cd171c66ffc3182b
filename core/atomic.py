"""Atomic writes: a reader sees the old file (or directory) or the new one, never a mix.

Everything the suite writes that another run reads back (prepared datasets, checkpoints,
result records, cached statistics) goes through these helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.errors import UserError
from core.locking import path_lock

_UMASK = os.umask(0)
os.umask(_UMASK)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class AtomicWriteError(UserError, OSError):
    """Writing failed (disk full, I/O error ...); the target was left as it was."""


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed over ``target``.

    On an exception the temporary file is removed and ``target`` is untouched; an ``OSError`` (ENOSPC,
    EIO ...) becomes one ``AtomicWriteError`` line saying so.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; results should read like any file written
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    except OSError as err:
        if isinstance(err, AtomicWriteError):
            raise
        kept = "the previous version is intact" if target.exists() else "nothing was written"
        raise AtomicWriteError(f"could not write {target}: {err.strerror or err}; {kept}") from err
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json_atomic(target: str | os.PathLike, obj: object) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


class CorruptJsonlError(UserError):
    """A JSON-lines file has a corrupt line before its last one (not a crash's truncated tail)."""


def _tail_start(fh, size: int) -> int:
    """Offset just past the last newline of the open file (0 when it has none)."""
    pos, chunk = size, 65536
    while pos > 0:
        step = min(chunk, pos)
        fh.seek(pos - step)
        block = fh.read(step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            return pos - step + cut + 1
        pos -= step
    return 0


def _repair_tail(fh, target: Path) -> None:
    """A crash mid-append leaves a last line without its newline; appending after it would fuse the
    next record into it and lose both. Cut it back to the last newline (saving the cut bytes in the
    ``.bad`` side file), or just end it when it is a whole record. Called under the file's lock."""
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        return
    fh.seek(size - 1)
    if fh.read(1) == b"\n":
        return
    start = _tail_start(fh, size)
    fh.seek(start)
    tail = fh.read()
    try:
        json.loads(tail)
    except ValueError:
        _save_bad_lines(target, [(_line_number(fh, start), tail.decode("utf-8", "replace"))])
        fh.truncate(start)
        print(f"{target}: removed a truncated last line ({len(tail)} bytes, left by an interrupted write) "
              f"before appending; it is kept in {bad_lines_path(target)}", file=sys.stderr, flush=True)
    else:
        fh.seek(size)
        fh.write(b"\n")


def _line_number(fh, offset: int) -> int:
    fh.seek(0)
    return fh.read(offset).count(b"\n") + 1


def bad_lines_path(target: str | os.PathLike) -> Path:
    """Where corrupt lines of a JSON-lines file are moved to (one JSON record per moved line)."""
    target = Path(target)
    return target.with_name(target.name + ".bad")


def _save_bad_lines(target: Path, lines: list[tuple[int, str]]) -> None:
    with open(bad_lines_path(target), "a") as fh:
        for number, text in lines:
            fh.write(json.dumps({"file": str(target), "line": number, "text": text}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def append_jsonl(target: str | os.PathLike, record: dict) -> None:
    """Append one JSON line, under the file's lock (so concurrent writers never interleave).

    The line goes out in a single ``write`` ending in a newline, flushed and fsynced, so a crash leaves
    at most a truncated last line: :func:`read_jsonl` tolerates it and the next append removes it first
    (saying so on stderr), so it never swallows the next record."""
    append_jsonl_lines(target, [record])


def append_jsonl_lines(target: str | os.PathLike, records: list[dict]) -> None:
    """Append several JSON lines in one ``write`` under the lock (see :func:`append_jsonl`). A kill
    mid-write can still leave a prefix of them (the kernel stops a write to a file page by page)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records).encode()
    with path_lock(target, "appending records", quiet=True), open(target, "ab+") as fh:
        _repair_tail(fh, target)
        fh.seek(0, os.SEEK_END)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _parse_lines(path: Path) -> tuple[list[dict], list[tuple[int, str]], bool]:
    """(records, corrupt (line number, text) pairs, whether the last corrupt one is a truncated tail)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete_end = data.endswith(b"\n")
    records, bad = [], []
    truncated_tail = False
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append(json.loads(raw))
        except ValueError:
            bad.append((number, raw.decode("utf-8", "replace")))
            truncated_tail = number == len(lines) and not complete_end
    return records, bad, truncated_tail


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read JSON lines. A truncated final line (a crash mid-append) is skipped; a corrupt line before
    it is an error naming the file and line (``bench records repair FILE`` moves such lines aside)."""
    path = Path(path)
    if not path.exists():
        return []
    records, bad, truncated_tail = _parse_lines(path)
    interior = bad[:-1] if truncated_tail else bad
    if interior:
        number, text = interior[0]
        more = f" (and {len(interior) - 1} more)" if len(interior) > 1 else ""
        raise CorruptJsonlError(f"{path}:{number}: corrupt line {text[:60]!r}{more}; "
                                f"`bench records repair {path}` moves such lines to {bad_lines_path(path)}")
    return records


def repair_jsonl(path: str | os.PathLike) -> list[tuple[int, str]]:
    """Move every unreadable line of ``path`` (interior or truncated tail) to its ``.bad`` side file
    and rewrite ``path`` atomically with the rest, under the file's lock. Returns the moved lines."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such records file: {path}")
    with path_lock(path, "repairing the file"):
        records, bad, _ = _parse_lines(path)
        if bad:
            _save_bad_lines(path, bad)
            write_text_atomic(path, "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records))
    return bad


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and swap it in whole when the block succeeds.

    An interrupted build leaves ``target`` as it was (old output or nothing) plus, at worst, a
    stale ``.<name>.building-*`` sibling that the next build removes.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
