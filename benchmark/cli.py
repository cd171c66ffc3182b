"""The ``bench`` command. Each subcommand is two things in the module that owns its idea: a frozen
dataclass of its options (``core.cli_options``: each field a flag, with its default and help) and the
Python API function that takes those fields as keyword arguments, with the same defaults (a test holds
them equal). This file builds the subcommand's parser from the dataclass and calls the function with
what was parsed; nothing else. The function prints what the command prints; an ``int`` it returns is the
exit status (``bench check``: 1 on a regression), anything else (records, a path, text) means 0.
Modules are imported only for the chosen subcommand, so ``bench prep`` never pays for the model code."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from core.cli_options import add_options, as_kwargs, options_from
from core.errors import TrainingInterrupted, UserError, exit_status

# What a KeyboardInterrupt outside a training step (or a second Ctrl-C) leaves, by command.
_AFTER_INTERRUPT = {
    "train": "checkpoints already written are kept (work since the last one is lost); "
             "rerun with --resume to continue",
    "run": "recorded cells and checkpoints are kept; rerun the same command to continue",
    "*": "files already written are complete (atomic writes); rerun the same command",
}

class Subcommand(NamedTuple):
    """``bench NAME``: its options dataclass and the API function it calls, each as ``"module:attribute"``
    (imported only when the subcommand runs), and its one-line help."""

    options: str
    function: str
    help: str

    def load(self) -> tuple[type, Callable[..., Any]]:
        """The options dataclass and the API function, imported."""
        return _resolve(self.options), _resolve(self.function)


SUBCOMMANDS: dict[str, Subcommand] = {
    "prep": Subcommand("data_prep.cli:PrepCommandOptions", "data_prep.cli:prepare",
                       "prepare a dataset (CUB, Dogs, Cars or the synthetic default)"),
    "train": Subcommand("onegan.cli:TrainOptions", "onegan.cli:train_onegan", "train OneGAN on a prepared dataset"),
    "train-evaluator": Subcommand("benchmark.evaluator_training:EvaluatorOptions",
                                  "benchmark.evaluator_training:train_evaluator_file",
                                  "train the classifier that scores generation"),
    "run": Subcommand("benchmark.run_options:RunOptions", "benchmark.run:run",
                      "train what is missing and evaluate methods on a task (Tables 1-3)"),
    "status": Subcommand("benchmark.launch.status_command:StatusOptions", "benchmark.launch.status_command:status",
                         "where each cell of the grids run into --out stands: done / running / queued / failed / "
                         "cut short, and totals"),
    "table": Subcommand("benchmark.table:TableOptions", "benchmark.table:table",
                        "render Tables 1-3 from result records (LaTeX / Markdown)"),
    "protocols": Subcommand("benchmark.protocols.listing:ProtocolsOptions",
                            "benchmark.protocols.listing:list_protocols",
                            "list the evaluation protocols (OneGAN, C3-GAN, DRC) and their sources"),
    "metrics": Subcommand("benchmark.metric_registry:MetricsOptions", "benchmark.metric_registry:list_metrics",
                          "list every metric: task, column, direction, tables, check tolerance, how it is computed"),
    "curve": Subcommand("benchmark.curve:CurveOptions", "benchmark.curve:curve",
                        "learning curves: OneGAN's metrics at increasing budgets, one resumable run per seed"),
    "records": Subcommand("benchmark.records:RecordsOptions", "benchmark.records:records",
                          "repair result logs: move corrupt lines to a side file"),
    "check": Subcommand("benchmark.check:CheckOptions", "benchmark.check:check",
                        "CI regression check of the smoke preset against results/reference"),
    "describe": Subcommand("benchmark.describe:DescribeOptions", "benchmark.describe:describe",
                           "model card: OneGAN's networks by paper symbol, parameters beside FineGAN's, FLOPs per "
                           "training step per phase"),
}


# What `bench --help` opens with: one whole sentence (the module docstring is for developers).
DESCRIPTION = ("OneGAN-bench: prepare the datasets, train OneGAN and the baselines, score them (or your own "
               "method's files) on the paper's Tables 1-3, and render the tables.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, subcommand in SUBCOMMANDS.items():
        sub.add_parser(name, help=subcommand.help, description=subcommand.help)
        # Options are added lazily only for the chosen subcommand (see main); help still lists all.
    return parser


def _resolve(reference: str) -> Any:
    module_name, attribute = reference.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def subcommand_parser(name: str) -> tuple[type, argparse.ArgumentParser]:
    """The options dataclass of ``bench NAME`` and its full parser, built as ``main`` builds it (the docs'
    tests parse every documented command line with it, without running anything)."""
    options = _resolve(SUBCOMMANDS[name].options)  # the function's module is imported only to call it
    sub_parser = argparse.ArgumentParser(prog=f"bench {name}", description=SUBCOMMANDS[name].help)
    add_options(sub_parser, options)
    return options, sub_parser


def call_subcommand(name: str, args: argparse.Namespace) -> int:
    """Call ``bench NAME``'s API function with the options parsed into ``args``; the exit status."""
    options, function = SUBCOMMANDS[name].load()
    result = function(**as_kwargs(options_from(args, options)))
    return result if type(result) is int else 0  # an int is an exit status; a bool or any other result is not


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in SUBCOMMANDS:
        _, sub_parser = subcommand_parser(argv[0])
        args = sub_parser.parse_args(argv[1:])
        try:
            return call_subcommand(argv[0], args)
        except UserError as err:
            print(f"bench {argv[0]}: error: {err}", file=sys.stderr)
            return 2
        except TrainingInterrupted as err:  # a signal, after training saved its checkpoint
            print(f"bench {argv[0]}: {err}", file=sys.stderr)
            return exit_status(err)
        except KeyboardInterrupt:
            print(f"bench {argv[0]}: interrupted; {_AFTER_INTERRUPT.get(argv[0], _AFTER_INTERRUPT['*'])}",
                  file=sys.stderr)
            return 130
    parser.parse_args(argv)
    return 2


if __name__ == "__main__":
    sys.exit(main())
