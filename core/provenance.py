"""Provenance carried by every result file: git commit, package versions, fingerprints."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

_PACKAGES = ("torch", "torchvision", "torch-fidelity", "numpy", "scipy", "scikit-learn", "pandas", "pillow")


def git_commit(repo: str | os.PathLike | None = None) -> str:
    """The commit of the code that produced a result ('unknown' outside a checkout; '+dirty' if a
    tracked file outside ``results/`` and the Markdown docs is modified)."""
    cwd = Path(repo) if repo else Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        # Only changes to code count: results/ and the Markdown docs do not change what a run
        # computes, and a run that appends to a committed results file would otherwise call itself dirty.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)results", ":(exclude)*.md"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions(extra: Iterable[str] = ()) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in (*_PACKAGES, *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def compute_environment() -> dict[str, str | int | None]:
    """Where a result was computed. The thread count belongs to provenance because oneDNN's reductions
    split by thread: the same seed on 1 and on 2 threads trains different weights (an evaluator's differ
    by 0.002 after one epoch), while runs at one thread count on one machine repeat bit for bit."""
    import torch  # local: the rest of this module is imported by light tools too

    return {"torch_threads": torch.get_num_threads(), "machine": platform.machine(),
            "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def fingerprint_files(paths: Iterable[str | os.PathLike]) -> str:
    """SHA-256 over the names and contents of files (order-independent), first 16 hex digits."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
