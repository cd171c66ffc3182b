"""Checkpoints are data, not code: every checkpoint the suite reads goes through ``load_data_only``.

``torch.load(weights_only=True)`` unpickles only tensors and plain Python types (dict, list, tuple,
str, int, float, bool, None), so a shared checkpoint (``bench run --checkpoint onegan=FILE``, a
downloaded run) cannot execute code when it is opened. Everything the suite writes fits that: configs
are stored as dicts, RNG states as tensors and tuples of ints. A file that needs anything else is
refused with one line naming the file and the offending type, found without unpickling it.
"""

from __future__ import annotations

import os
import pickle
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any

from core.errors import UserError


class UnsafeCheckpointError(UserError):
    """The file needs more than tensors and plain types to load (possibly code); it was not loaded."""


class MethodCheckpointError(UserError, ValueError):
    """A checkpoint file is missing, unreadable or belongs to another method."""


_PLAIN_GLOBALS = {"collections.OrderedDict"}  # what a state dict in a raw pickle may name harmlessly


def _raw_pickle_globals(data: bytes) -> list[str]:
    """The ``module.name`` globals a plain pickle refers to, read from its opcodes (never executed)."""
    found, strings = [], []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001 - a malformed stream: report what was found so far
        pass
    return found


def _offending_types(path: Path, error: Exception) -> str:
    import torch

    names: list[str] = []
    try:
        if zipfile.is_zipfile(path):
            names = list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
        else:
            names = [n for n in _raw_pickle_globals(path.read_bytes()) if n not in _PLAIN_GLOBALS]
    except Exception:  # noqa: BLE001 - fall back to what the unpickler said
        names = []
    if not names:
        names = re.findall(r"GLOBAL (\S+)", str(error))
    if not names:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        return lines[-2] if len(lines) >= 2 else (lines[0] if lines else type(error).__name__)
    return ", ".join(dict.fromkeys(names))


def load_data_only(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; a file that needs other types is refused (one line)."""
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"{path}: refused to load: it needs {_offending_types(path, err)}, which is not plain data "
            "(checkpoints are loaded with torch.load(weights_only=True); re-save it from code you trust "
            "with tensors and plain types only)") from None


def load_method_checkpoint(path: str | os.PathLike, method: str, *, checkpoint_name: str, missing: str,
                           not_method: str, unreadable: str, error: type[UserError] = MethodCheckpointError,
                           map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint dict whose ``"method"`` is ``method``, from a file or a run directory.

    The messages are templates with ``{path}``, ``{method}`` and (``not_method``) ``{found}``, and
    (``unreadable``) ``{err}``; ``error`` is the method's own error type. Unsafe files are refused
    before anything is unpickled (``UnsafeCheckpointError``).
    """
    path = Path(path)
    if path.is_dir():
        path = path / checkpoint_name
    if not path.is_file():
        raise error(missing.format(path=path, method=method))
    try:
        payload = load_data_only(path, map_location=map_location)
    except UnsafeCheckpointError:
        raise
    except Exception as err:  # noqa: BLE001 - any other read failure means a broken file
        raise error(unreadable.format(path=path, method=method, err=err)) from err
    if not isinstance(payload, dict) or payload.get("method") != method:
        found = payload.get("method") if isinstance(payload, dict) else type(payload).__name__
        raise error(not_method.format(path=path, method=method, found=found))
    return payload
