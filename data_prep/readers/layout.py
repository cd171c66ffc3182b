"""Checks shared by the readers: a missing root or annotation file is named in one clear line."""

from __future__ import annotations

from pathlib import Path

from core.errors import UserError


class DatasetLayoutError(UserError, FileNotFoundError):
    """The dataset root does not look like the dataset as distributed (a file or folder is missing
    or malformed)."""


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetLayoutError(f"{what} not found: {path} is not a directory")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetLayoutError(f"{what} not found: expected the file {path}")
    return path


def first_existing(candidates: list[Path], what: str) -> Path:
    """The first candidate that is a file; else an error listing every place looked at."""
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise DatasetLayoutError(f"{what} not found; looked for {looked}")


def read_table(path: Path, columns: int, what: str) -> list[list[str]]:
    """Whitespace-separated rows of a CUB-style text table, each with at least ``columns`` fields;
    the last field keeps any inner spaces."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(maxsplit=columns - 1)
        if len(fields) < columns:
            raise DatasetLayoutError(f"{path}:{number}: {what} line needs {columns} fields, got {line!r}")
        rows.append(fields)
    return rows
