"""A command's options declared once, as a dataclass, from which its argparse parser is built and to
which a parsed namespace turns back (torch-fidelity's idea: the CLI and the Python API take the same
options with the same defaults, so a command calls the function the API exposes).

Each field is an option ``--field-name`` (underscores become dashes) with the field's default; a field
without a default is a required option. Its ``metadata`` (``cli(...)``) holds the help text and what
argparse needs beyond that. A bool field is a switch: ``--name`` sets a False default to True,
``--no-name`` a True default to False. Declare the dataclass ``kw_only=True`` when a required field
follows one with a default (the help lists the fields in their order).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Options = TypeVar("Options")
_KEY = "cli"


def cli(help: str, *, flag: str | tuple[str, ...] | None = None, choices: Sequence[str] | None = None,
        metavar: str | None = None, type: Callable[[str], Any] | None = None, repeat: bool = False,
        parse: Callable[[Any], Any] | None = None, env: str | None = None, positional: bool = False,
        nargs: str | None = None, section: str | None = None, exclusive: str | None = None,
        group: tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], Any]] | None = None
        ) -> dict[str, Any]:
    """A field's ``metadata``: ``flag`` (default ``--field-name``, or ``--no-field-name`` for a True bool;
    a tuple gives aliases, e.g. ``("--output", "-o")``); ``type``: argparse's, turning the text given into
    the field's value (int, float, Path, a validator raising ``argparse.ArgumentTypeError``) so a bad value
    is argparse's usage error; ``repeat``: the option may be given several times (a list); ``parse``: turns
    the parsed value into the field's (e.g. ``METHOD=PATH`` items into a dict; may raise ``UserError``);
    ``env``: an environment variable read when the option is not given (the CLI's fallback only; the API
    does not read it); ``positional``: an argument without a flag (``nargs`` as argparse's, e.g. ``"*"``);
    ``section``: the title of the help section the option is listed under; ``exclusive``: options naming
    the same key may not be given together; ``group``: a field whose options are a group declared once
    elsewhere and shared by several commands, as ``(add_arguments(parser), read(namespace) -> the field's
    value)``."""
    return {_KEY: {"help": help, "flag": flag, "choices": None if choices is None else list(choices),
                   "metavar": metavar, "type": type, "repeat": repeat, "parse": parse, "env": env,
                   "positional": positional, "nargs": nargs, "section": section, "exclusive": exclusive,
                   "group": group}}


def flags(field: dataclasses.Field) -> list[str]:
    """The option strings of one field (its name for a positional one; none for a ``group`` field)."""
    spec = field.metadata[_KEY]
    if spec["group"] is not None:
        return []
    if spec["positional"]:
        return [field.name]
    if spec["flag"] is not None:
        return [spec["flag"]] if isinstance(spec["flag"], str) else list(spec["flag"])
    dashed = field.name.replace("_", "-")
    return [f"--no-{dashed}" if field.default is True else f"--{dashed}"]


def add_options(parser: argparse.ArgumentParser, options: type) -> None:
    """One argparse argument per field of the dataclass ``options``, in field order."""
    sections: dict[str, argparse._ArgumentGroup] = {}
    exclusive: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for field in dataclasses.fields(options):
        spec = field.metadata[_KEY]
        if spec["group"] is not None:
            spec["group"][0](parser)
            continue
        target: Any = parser
        if spec["section"] is not None:
            if spec["section"] not in sections:
                sections[spec["section"]] = parser.add_argument_group(spec["section"])
            target = sections[spec["section"]]
        if spec["exclusive"] is not None:
            if spec["exclusive"] not in exclusive:
                exclusive[spec["exclusive"]] = target.add_mutually_exclusive_group()
            target = exclusive[spec["exclusive"]]
        required = field.default is dataclasses.MISSING
        default = None if required else field.default
        if spec["positional"]:
            extra = {"nargs": spec["nargs"]} if spec["nargs"] is not None else {}
            target.add_argument(field.name, default=default, choices=spec["choices"], type=spec["type"],
                                metavar=spec["metavar"], help=spec["help"], **extra)
        elif isinstance(field.default, bool):
            target.add_argument(*flags(field), dest=field.name,
                                action="store_false" if field.default else "store_true", help=spec["help"])
        elif spec["repeat"]:
            target.add_argument(*flags(field), dest=field.name, action="append", default=[], type=spec["type"],
                                metavar=spec["metavar"], help=spec["help"])
        else:
            target.add_argument(*flags(field), dest=field.name, default=default, required=required,
                                choices=spec["choices"], type=spec["type"], metavar=spec["metavar"],
                                help=spec["help"])


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
