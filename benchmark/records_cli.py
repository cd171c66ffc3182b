"""``bench records repair [PATH ...]``: move unreadable lines of result (or loss) logs aside.

``records.jsonl`` is append-only. A crash mid-append leaves a truncated last line, which readers
skip and the next append removes (saying so). Any other corrupt line stops every reader with the
file and line number instead of being dropped unseen; this command moves such lines to
``<file>.bad`` (one JSON record per moved line: file, line number, text) and rewrites the file
atomically without them, under the same lock the writers take.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.records import RECORDS_FILE
from core.atomic import bad_lines_path, repair_jsonl


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    repair = sub.add_parser("repair", help="move corrupt lines of JSON-lines files to <file>.bad")
    repair.add_argument("paths", nargs="*", default=["results/latest"],
                        help=f"JSON-lines files, or results directories holding {RECORDS_FILE} "
                             "(default: results/latest)")


def main(args: argparse.Namespace) -> int:
    for given in args.paths:
        path = Path(given)
        if path.is_dir():
            path = path / RECORDS_FILE
        moved = repair_jsonl(path)
        if moved:
            lines = ", ".join(str(number) for number, _ in moved)
            print(f"{path}: moved {len(moved)} corrupt line(s) (line {lines}) to {bad_lines_path(path)}")
        else:
            print(f"{path}: every line reads; nothing to repair")
    return 0
