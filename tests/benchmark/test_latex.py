"""Every LaTeX table the suite emits compiles, with no overfull box and no float taller than its page.

Needs pdflatex (Debian: ``apt-get install texlive-latex-base texlive-latex-recommended``); skipped
without it, unless ONEGAN_REQUIRE_LATEX=1 (set by ``.ci/run``, which installs TeX).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmark.table import build_tables, render
from core.atomic import read_jsonl

ROOT = Path(__file__).resolve().parents[2]
OVERFULL_TOLERANCE_PT = 2.0


def _require_pdflatex() -> None:
    if shutil.which("pdflatex") is None:
        if os.environ.get("ONEGAN_REQUIRE_LATEX") == "1":
            pytest.fail("pdflatex is missing but ONEGAN_REQUIRE_LATEX=1 (install texlive-latex-base and "
                        "texlive-latex-recommended)")
        pytest.skip("no pdflatex here (apt-get install texlive-latex-base texlive-latex-recommended)")


def _records() -> list[dict]:
    """The demo's records and the tiny Table 3's, plus a second seed (so cells carry ± std) and a
    cut-short cell."""
    demo = [*read_jsonl(ROOT / "results" / "demo" / "records.jsonl"),
            *read_jsonl(ROOT / "results" / "studies" / "table3_faithful" / "records.jsonl")]
    second = [{**r, "seed": 1, "value": r["value"] * 1.07 + 0.3} for r in demo]
    short = [{**r, "seed": 2, "cut_short": True} for r in demo if r["method"] == "redo"]
    return demo + second + short


def _compile(tmp_path: Path, name: str, document: str) -> str:
    (tmp_path / f"{name}.tex").write_text(document)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                          cwd=tmp_path, capture_output=True, text=True, errors="replace", timeout=300)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    return log


def _problems(log: str) -> list[str]:
    found = [m.group(0) for m in re.finditer(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)
             if float(m.group(1)) > OVERFULL_TOLERANCE_PT]
    found += re.findall(r"Float too large for page.*", log)
    found += re.findall(r"Overfull \\vbox.*", log)
    return found


@pytest.mark.parametrize("reported", ["all", "none"])
@pytest.mark.parametrize("tables", ["1,2,3", "1", "2", "3"])
def test_every_table_compiles_and_fits_its_page(tmp_path, tables, reported):
    _require_pdflatex()
    built = build_tables(_records(), tables.split(","), reported=reported)
    assert built
    standalone = render(built, "latex")
    log = _compile(tmp_path, "standalone", standalone)
    assert _problems(log) == []
    fragment = render(built, "latex-fragment")
    assert r"\documentclass" not in fragment and r"\begin{table}" in fragment
    (tmp_path / "tables.tex").write_text(fragment)
    # \input twice: the fragment's definitions must tolerate being loaded again
    wrapper = "\n".join([r"\documentclass{article}", r"\usepackage{booktabs,graphicx}", r"\begin{document}",
                         r"\input{tables}", r"\clearpage", r"\input{tables}", r"\end{document}"])
    log = _compile(tmp_path, "wrapper", wrapper)
    assert _problems(log) == []


def test_wide_table_would_overflow_without_the_fit(tmp_path):
    """The check above can fail: Table 2 with every dataset is wider than a landscape page unscaled."""
    _require_pdflatex()
    text = render(build_tables(_records(), ["2"], reported="all"), "latex")
    unscaled = text.replace(r"\onegantablefit{\begin{tabular}", r"{\begin{tabular}")
    assert unscaled != text
    assert any("Overfull" in p for p in _problems(_compile(tmp_path, "unscaled", unscaled)))


def test_cut_short_cells_are_marked_in_latex():
    text = render(build_tables(_records(), ["2"], reported="none"), "latex")
    assert r"$^\ddagger$" in text and "cut short" in text
