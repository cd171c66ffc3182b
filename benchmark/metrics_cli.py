"""``bench metrics``: list every declared metric (``benchmark.metric_registry``): its task, table
column and direction, the tables that show it, its ``bench check`` tolerance and how it is computed.

    bench metrics
"""

from __future__ import annotations

import argparse

from tabulate import tabulate

from benchmark import metric_registry


def listing() -> str:
    headers = ["metric", "task", "column", "dir", "tables", "check tolerance", "computed by"]
    return tabulate(metric_registry.describe(), headers=headers) + "\n"


def configure(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def main(args: argparse.Namespace) -> int:
    print(listing(), end="")
    return 0
