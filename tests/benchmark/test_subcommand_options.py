"""Every ``bench`` subcommand's options are declared once: a dataclass (``core.cli_options``) from which
its parser is built, and whose defaults are the keyword defaults of the API function the subcommand calls.
These tests read ``benchmark.cli.SUBCOMMANDS``, so a command added there is held to the same."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmark import cli
from core.cli_options import add_options, as_kwargs, flags, options_from
from core.cli_options import cli as option

# Keywords the Python API takes beyond the command's options (none may lack a default).
API_ONLY = {"check": {"reference", "learning_reference"}}


def _options_and_function(name: str) -> tuple[type, object]:
    return cli.SUBCOMMANDS[name].load()


@pytest.mark.parametrize("name", list(cli.SUBCOMMANDS))
def test_the_api_function_takes_the_options_with_their_defaults(name):
    options, function = _options_and_function(name)
    assert dataclasses.is_dataclass(options) and options.__dataclass_params__.frozen
    parameters = inspect.signature(function).parameters
    fields = {f.name: f for f in dataclasses.fields(options)}
    assert set(parameters) - set(fields) == API_ONLY.get(name, set())
    assert all(parameters[extra].default is not inspect.Parameter.empty for extra in API_ONLY.get(name, ()))
    for field_name, declared in fields.items():
        assert field_name in parameters, f"{name}: {field_name} is an option but not a keyword of the API"
        default = parameters[field_name].default
        if declared.default is dataclasses.MISSING:  # a required option: a required keyword
            assert default is inspect.Parameter.empty, field_name
        else:
            assert default == declared.default, f"{name} --{field_name}: API {default!r}, CLI {declared.default!r}"
            assert type(default) is type(declared.default), field_name


@pytest.mark.parametrize("name", list(cli.SUBCOMMANDS))
def test_help_lists_every_options_flag(name, capsys):
    options, _ = _options_and_function(name)
    with pytest.raises(SystemExit) as exit_:
        cli.main([name, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for declared in dataclasses.fields(options):
        spec = declared.metadata["cli"]
        if spec["positional"]:  # listed by its metavar, or its choices
            shown = [spec["metavar"] or "{" + ",".join(spec["choices"]) + "}"]
        else:
            shown = flags(declared) or ["--launcher"]  # a group field: its first option
        for flag in shown:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), f"bench {name} --help lacks {flag}"
        if spec["group"] is None:  # a group's options carry their own help
            assert " ".join(spec["help"].split()[:3]) in " ".join(text.split()), f"bench {name}: {declared.name}"


def test_every_command_module_is_left_without_its_own_parser_code():
    """``bench`` builds every parser itself; no command module keeps a configure/main of its own."""
    for subcommand in cli.SUBCOMMANDS.values():
        module = inspect.getmodule(subcommand.load()[1])
        assert not hasattr(module, "configure") and not hasattr(module, "main"), module.__name__


def test_an_int_returned_is_the_exit_status_anything_else_is_zero(monkeypatch):
    from benchmark import check, table

    _, parser = cli.subcommand_parser("check")
    monkeypatch.setattr(check, "check", lambda **kwargs: 1)
    assert cli.call_subcommand("check", parser.parse_args(["--stage", "smoke"])) == 1
    _, parser = cli.subcommand_parser("table")
    monkeypatch.setattr(table, "table", lambda **kwargs: "text")
    assert cli.call_subcommand("table", parser.parse_args([])) == 0
    monkeypatch.setattr(table, "table", lambda **kwargs: True)  # a bool is not an exit status
    assert cli.call_subcommand("table", parser.parse_args([])) == 0


def test_parsed_options_reach_the_api_function(monkeypatch):
    from benchmark import describe
    from benchmark.protocols import listing

    called = []
    monkeypatch.setattr(describe, "describe", lambda **kwargs: called.append(kwargs))
    _, parser = cli.subcommand_parser("describe")
    cli.call_subcommand("describe", parser.parse_args(["--classes", "7", "--no-flops", "--format", "json"]))
    assert called[-1] == {"preset": "paper", "classes": 7, "parents": 20, "format": "json", "flops_batch": 1,
                          "flops": False}
    monkeypatch.setattr(listing, "list_protocols", lambda **kwargs: called.append(kwargs))
    _, parser = cli.subcommand_parser("protocols")
    cli.call_subcommand("protocols", parser.parse_args(["--verbose"]))
    assert called[-1] == {"verbose": True}


def test_a_required_option_missing_or_a_bad_int_is_a_usage_error(capsys):
    assert _exit_code(["status"]) == 2 and "--out" in capsys.readouterr().err
    assert _exit_code(["describe", "--classes", "many"]) == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err
    assert _exit_code(["train", "--data", "d", "--out", "o", "--resume", "--restart"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert _exit_code(["train", "--data", "d", "--out", "o", "--iterations", "-1"]) == 2
    assert "must be 0 or more" in capsys.readouterr().err
    assert _exit_code(["records"]) == 2  # the action is required, as it was as a sub-subcommand


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    return exit_.value.code


def test_positional_sections_exclusive_aliases_and_required_options():
    @dataclass(frozen=True, kw_only=True)
    class Toy:
        action: str = field(default="go", metadata=option("what to do", positional=True, choices=["go", "stop"]))
        paths: tuple = field(default=("here",), metadata=option("where", positional=True, nargs="*"))
        data: Path = field(metadata=option("input", type=Path))
        output: str | None = field(default=None, metadata=option("a file", flag=("--output", "-o")))
        fast: bool = field(default=False, metadata=option("fast", exclusive="speed"))
        slow: bool = field(default=False, metadata=option("slow", exclusive="speed"))
        count: int = field(default=3, metadata=option("how many", type=int, section="extra"))

    parser = argparse.ArgumentParser()
    add_options(parser, Toy)
    got = options_from(parser.parse_args(["go", "--data", "d"]), Toy)
    assert got == Toy(data=Path("d"))
    got = options_from(parser.parse_args(["stop", "a", "b", "--data", "d", "-o", "f", "--slow", "--count", "5"]),
                       Toy)
    assert as_kwargs(got) == {"action": "stop", "paths": ["a", "b"], "data": Path("d"), "output": "f",
                              "fast": False, "slow": True, "count": 5}
    assert "extra:" in parser.format_help() and "--output OUTPUT, -o OUTPUT" in parser.format_help()
    for bad in (["go"], ["go", "--data", "d", "--fast", "--slow"], ["jump", "--data", "d"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
