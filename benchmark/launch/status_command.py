"""``bench status --out DIR [--work DIR]``: where each cell of the grids ``bench run`` planned into
``--out`` stands (done / running / queued / failed / cut short), read from records, checkpoints and the
job folders; the same for in-process and launched runs. It replays each remembered grid through
``benchmark.run.run`` with the ``status`` launcher, which plans the cells and prints them, running nothing."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from benchmark.launch.options import LaunchOptions
from benchmark.launch.status import ORDER, PLANS_DIR
from benchmark.run import run
from core.errors import UserError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the results directory of bench run")
    parser.add_argument("--work", default=None, help="its work directory (default: the one each run was given)")


def main(args: argparse.Namespace) -> int:
    plans = sorted((Path(args.out) / PLANS_DIR).glob("*.json"))
    if not plans:
        raise UserError(f"no bench run has planned a grid in {args.out} (no {PLANS_DIR}/*.json there)")
    totals: Counter = Counter()
    for path in plans:
        arguments = json.loads(path.read_text())
        if args.work is not None:
            arguments["work"] = args.work
        counts = Counter()
        run(**arguments, out=args.out, figures=False, launcher=LaunchOptions(kind="status", status_counts=counts))
        totals += counts
    print("total: " + ", ".join(f"{totals[k]} {k}" for k in ORDER if totals[k]) + f" ({sum(totals.values())} cells)")
    return 0
