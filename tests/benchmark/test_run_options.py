"""``bench run``'s options are declared once (``benchmark.run_options.RunOptions``): the parser is built
from it, the Python API's defaults are its defaults, and ``bench run`` calls the API with what it parsed."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmark import run as run_module
from benchmark.cli import call_subcommand, subcommand_parser
from benchmark.run_options import DEFAULTS, RunOptions
from core.cli_options import add_options, as_kwargs, cli, options_from
from core.errors import UserError


def test_the_api_takes_exactly_the_declared_options_with_their_defaults():
    parameters = inspect.signature(run_module.run).parameters
    assert set(parameters) == {f.name for f in dataclasses.fields(RunOptions)}
    assert {name: p.default for name, p in parameters.items()} == as_kwargs(DEFAULTS)
    assert (DEFAULTS.task, DEFAULTS.preset, DEFAULTS.seeds, DEFAULTS.out) == ("all", "tiny", "0", "results/latest")


def test_bench_run_calls_the_api_with_what_it_parsed(monkeypatch):
    _, parser = subcommand_parser("run")
    called = []
    monkeypatch.setattr(run_module, "run", lambda **kwargs: called.append(kwargs) or [])
    monkeypatch.delenv("ONEGAN_INCEPTION_WEIGHTS", raising=False)

    def main(args: argparse.Namespace) -> int:
        return call_subcommand("run", args)

    assert main(parser.parse_args([])) == 0
    assert called[-1] == {**as_kwargs(DEFAULTS), "checkpoints": {}}  # no --checkpoint: an empty map
    args = parser.parse_args(["--task", "clustering", "--preset", "smoke", "--checkpoint", "iic=a/b.pt",
                              "--checkpoint", "redo=c=d.pt", "--no-figures", "--force", "--ablations", "no-rm"])
    main(args)
    assert called[-1] == {**as_kwargs(DEFAULTS), "task": "clustering", "preset": "smoke", "force": True,
                          "checkpoints": {"iic": Path("a/b.pt"), "redo": Path("c=d.pt")}, "figures": False,
                          "ablations": "no-rm"}
    monkeypatch.setenv("ONEGAN_INCEPTION_WEIGHTS", "w.pth")
    main(parser.parse_args([]))
    assert called[-1]["inception_weights"] == "w.pth"
    main(parser.parse_args(["--inception-weights", "mine.pth"]))
    assert called[-1]["inception_weights"] == "mine.pth"
    with pytest.raises(UserError, match="METHOD=PATH"):
        main(parser.parse_args(["--checkpoint", "iic"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--preset", "huge"])


def test_a_dataclass_becomes_a_parser_and_back():
    @dataclass(frozen=True)
    class Toy:
        size_px: int = field(default=3, metadata=cli("a size", metavar="N", parse=int))
        colour: str = field(default="red", metadata=cli("a colour", choices=["red", "blue"]))
        loud: bool = field(default=False, metadata=cli("shout"))
        draw: bool = field(default=True, metadata=cli("do not draw"))
        tags: tuple = field(default=(), metadata=cli("a tag", flag="--tag", repeat=True, parse=tuple))

    parser = argparse.ArgumentParser()
    add_options(parser, Toy)
    assert [a.option_strings[0] for a in parser._actions[1:]] == ["--size-px", "--colour", "--loud", "--no-draw",
                                                                  "--tag"]
    assert options_from(parser.parse_args([]), Toy) == Toy()
    got = options_from(parser.parse_args(["--size-px", "5", "--colour", "blue", "--loud", "--no-draw", "--tag",
                                          "a", "--tag", "b"]), Toy)
    assert got == Toy(size_px=5, colour="blue", loud=True, draw=False, tags=("a", "b"))
