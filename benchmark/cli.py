"""The ``bench`` command. Each subcommand lives in its stage's own module, which exposes
``configure(parser)`` and ``main(args) -> int``; this file only dispatches (lazily, so ``bench prep``
never pays for importing the model code)."""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from core.errors import TrainingInterrupted, UserError, exit_status

# What a KeyboardInterrupt outside a training step (or a second Ctrl-C) leaves, by command.
_AFTER_INTERRUPT = {
    "train": "checkpoints already written are kept (work since the last one is lost); "
             "rerun with --resume to continue",
    "run": "recorded cells and checkpoints are kept; rerun the same command to continue",
    "*": "files already written are complete (atomic writes); rerun the same command",
}

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "prep": ("data_prep.cli", "prepare a dataset (CUB, Dogs, Cars or the synthetic default)"),
    "train": ("onegan.cli", "train OneGAN on a prepared dataset"),
    "train-evaluator": ("benchmark.evaluator_cli", "train the classifier that scores generation"),
    "run": ("benchmark.run", "train what is missing and evaluate methods on a task (Tables 1-3)"),
    "status": ("benchmark.launch.status_command", "where each cell of the grids run into --out stands: done / "
                                                  "running / queued / failed / cut short, and totals"),
    "table": ("benchmark.table", "render Tables 1-3 from result records (LaTeX / Markdown)"),
    "protocols": ("benchmark.protocols_cli", "list the evaluation protocols (OneGAN, C3-GAN, DRC) and their sources"),
    "metrics": ("benchmark.metrics_cli", "list every metric: task, column, direction, tables, check tolerance, "
                                         "how it is computed"),
    "curve": ("benchmark.curve", "learning curves: OneGAN's metrics at increasing budgets, one resumable run per seed"),
    "records": ("benchmark.records_cli", "repair result logs: move corrupt lines to a side file"),
    "check": ("benchmark.check", "CI regression check of the smoke preset against results/reference"),
    "describe": ("benchmark.describe", "model card: OneGAN's networks by paper symbol, parameters beside FineGAN's, "
                                       "FLOPs per training step per phase"),
}


# What `bench --help` opens with: one whole sentence (the module docstring is for developers).
DESCRIPTION = ("OneGAN-bench: prepare the datasets, train OneGAN and the baselines, score them (or your own "
               "method's files) on the paper's Tables 1-3, and render the tables.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        # Configure lazily only for the chosen subcommand (see main); help still lists all.
    return parser


def subcommand_parser(name: str) -> tuple[ModuleType, argparse.ArgumentParser]:
    """The module of ``bench NAME`` and its full parser, built as ``main`` builds it (the docs' tests
    parse every documented command line with it, without running anything)."""
    module = importlib.import_module(SUBCOMMANDS[name][0])
    sub_parser = argparse.ArgumentParser(prog=f"bench {name}", description=SUBCOMMANDS[name][1])
    module.configure(sub_parser)
    return module, sub_parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in SUBCOMMANDS:
        module, sub_parser = subcommand_parser(argv[0])
        args = sub_parser.parse_args(argv[1:])
        try:
            return int(module.main(args) or 0)
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
