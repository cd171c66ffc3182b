"""JULE and DEPICT are registered under the paper's row names, score clustering only, and stay out of
the demo's default method list (they run when named, and in bench check's smoke stage)."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark.methods import DEFAULT_METHODS, METHODS, parse_methods

PAPER_TABLES = Path(__file__).resolve().parents[2] / "results" / "reported" / "paper_tables.csv"


def test_registered_with_the_papers_row_names() -> None:
    with PAPER_TABLES.open() as handle:
        printed = {row["method"] for row in csv.DictReader(handle) if row["table"] == "2"}
    for name, title in (("jule", "JULE"), ("depict", "DEPICT")):
        assert METHODS[name].title == title and title in printed
        assert METHODS[name].tasks == ("clustering",)


def test_kept_out_of_the_demo_but_runnable_by_name() -> None:
    assert "jule" not in DEFAULT_METHODS and "depict" not in DEFAULT_METHODS
    assert "iic" in DEFAULT_METHODS and parse_methods(None) == list(DEFAULT_METHODS)
    assert parse_methods("jule,depict") == ["jule", "depict"]
    every = parse_methods("all")
    assert every == list(METHODS) and {"jule", "depict", "wnet", "uisb"} <= set(every) - set(DEFAULT_METHODS)
    assert parse_methods("redo,all") == ["redo", *[name for name in METHODS if name != "redo"]]  # each once
