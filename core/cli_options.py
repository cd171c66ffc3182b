"""A command's options declared once, as a dataclass, from which its argparse parser is built and to
which a parsed namespace turns back (torch-fidelity's idea: the CLI and the Python API take the same
options with the same defaults, so ``main`` calls the function the API exposes).

Each field is an option ``--field-name`` (underscores become dashes) with the field's default; its
``metadata`` (``cli(...)``) holds the help text and what argparse needs beyond that. A bool field is a
switch: ``--name`` sets a False default to True, ``--no-name`` a True default to False.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Options = TypeVar("Options")
_KEY = "cli"


def cli(help: str, *, flag: str | None = None, choices: Sequence[str] | None = None, metavar: str | None = None,
        repeat: bool = False, parse: Callable[[Any], Any] | None = None, env: str | None = None,
        group: tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], Any]] | None = None
        ) -> dict[str, Any]:
    """A field's ``metadata``: ``flag`` (default ``--field-name``, or ``--no-field-name`` for a True bool);
    ``repeat``: the option may be given several times (a list); ``parse``: turns the parsed value into the
    field's (e.g. ``METHOD=PATH`` items into a dict); ``env``: an environment variable read when the option
    is not given (the CLI's fallback only; the API does not read it); ``group``: a field whose options are
    a group declared once elsewhere and shared by several commands, as ``(add_arguments(parser),
    read(namespace) -> the field's value)``."""
    return {_KEY: {"help": help, "flag": flag, "choices": None if choices is None else list(choices),
                   "metavar": metavar, "repeat": repeat, "parse": parse, "env": env, "group": group}}


def add_options(parser: argparse.ArgumentParser, options: type) -> None:
    """One argparse option per field of the dataclass ``options``, in field order."""
    for field in dataclasses.fields(options):
        spec = field.metadata[_KEY]
        dashed = field.name.replace("_", "-")
        if spec["group"] is not None:
            spec["group"][0](parser)
        elif isinstance(field.default, bool):
            flag = spec["flag"] or (f"--no-{dashed}" if field.default else f"--{dashed}")
            parser.add_argument(flag, dest=field.name, action="store_false" if field.default else "store_true",
                                help=spec["help"])
        elif spec["repeat"]:
            parser.add_argument(spec["flag"] or f"--{dashed}", dest=field.name, action="append", default=[],
                                metavar=spec["metavar"], help=spec["help"])
        else:
            parser.add_argument(spec["flag"] or f"--{dashed}", dest=field.name, default=field.default,
                                choices=spec["choices"], metavar=spec["metavar"], help=spec["help"])


def options_from(args: argparse.Namespace, options: type[Options]) -> Options:
    """The dataclass ``options`` filled from a namespace ``add_options``'s parser produced."""
    values = {}
    for field in dataclasses.fields(options):
        spec = field.metadata[_KEY]
        if spec["group"] is not None:
            values[field.name] = spec["group"][1](args)
            continue
        value = getattr(args, field.name)
        if spec["env"] is not None:
            value = value or os.environ.get(spec["env"])
        values[field.name] = spec["parse"](value) if spec["parse"] is not None else value
    return options(**values)


def as_kwargs(options: object) -> dict[str, Any]:
    """The fields of a dataclass instance as keyword arguments (values as they are, not deep-copied)."""
    return {field.name: getattr(options, field.name) for field in dataclasses.fields(options)}
