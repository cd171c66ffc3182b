"""``bench protocols``: list the evaluation protocols with their conventions and where they were read.

    bench protocols [--verbose]
"""

from __future__ import annotations

import argparse

from benchmark import protocols


def listing(verbose: bool = False) -> str:
    lines = []
    for name in protocols.names():
        p = protocols.get(name)
        lines += [f"{p.tag}  {p.title}",
                  f"    paper:      {p.source.paper}",
                  f"    repository: {p.source.repository}",
                  f"    files:      {', '.join(p.source.files)}",
                  f"    tasks:      {', '.join(p.tasks)}"]
        if verbose:
            lines += [f"    {key}: {value}" for key, value in p.describe().items()
                      if key not in ("protocol", "title", "source", "tasks")]
    return "\n".join(lines) + "\n"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="also print every convention of each protocol")


def main(args: argparse.Namespace) -> int:
    print(listing(args.verbose), end="")
    return 0
