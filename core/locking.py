"""Advisory locks between processes that write the same files (two ``bench run`` on one results
directory, a ``bench train`` beside a ``bench run`` on one run directory, ...).

A lock is ``fcntl.flock`` on a small sidecar file ``.<name>.lock`` beside the thing it protects (a
sidecar, not the target itself, because atomic writes replace the target's inode). The kernel drops a
flock when its process dies, so a lock left by a killed process never blocks anyone: the sidecar file
may stay behind, but nothing holds it. The holder writes its pid and what it is doing into the file,
only so that a waiting process can say whom it waits for.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from core.errors import UserError


def lock_path_for(target: str | os.PathLike) -> Path:
    """The sidecar lock file of ``target`` (a file or a directory; it need not exist)."""
    target = Path(target).absolute()
    return target.parent / f".{target.name}.lock"


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
        if text:
            return text
    return "another process"


@contextlib.contextmanager
def path_lock(target: str | os.PathLike, doing: str, *, wait_message: str | None = None,
              quiet: bool = False) -> Iterator[bool]:
    """Hold the exclusive lock of ``target`` for the block; ``doing`` says what this process does.

    When another process holds it, print one line (``wait_message`` or a default naming the holder) to
    stderr and wait. Yields whether this process had to wait (then what the other produced may now be
    on disk: re-check before redoing it).
    """
    lock_file = lock_path_for(target)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    waited = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waited = True
            if not quiet:
                message = wait_message or f"waiting for {target}: {_holder(fd)}"
                print(message, file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as err:  # ENOLCK / ENOSYS / EOPNOTSUPP: this filesystem has no working flock
            raise UserError(f"cannot lock {lock_file}: {err.strerror or err}; the run's directories need a filesystem "
                            "with working flock locks (NFS: not 'nolock' or 'local_lock=flock'; Lustre: mount "
                            "-o flock; see docs/cluster.md)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} is {doing}\n".encode(), 0)
        try:
            yield waited
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_held(target: str | os.PathLike) -> bool:
    """Whether a live process holds ``target``'s lock now (a probe: takes and drops it at once when free)."""
    lock_file = lock_path_for(target)
    if not lock_file.exists():
        return False
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def is_main_process() -> bool:
    """Rank 0 (or no torchrun): the process that takes a run's locks (the other ranks follow it)."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def main_process_lock(target: str | os.PathLike, doing: str) -> Iterator[bool]:
    """``path_lock`` in rank 0 only, so the ranks of one ``torchrun`` job do not wait for each other."""
    if not is_main_process():
        yield False
        return
    with path_lock(target, doing) as waited:
        yield waited
