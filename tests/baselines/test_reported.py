"""The reported-numbers CSV against the paper's own text, parsed here independently of the CSV.

``paper_text/onegan_tables_excerpt.txt`` is lines 787-870 of the paper's text extraction
(``shared/paper/onegan.txt``), where the extraction renders the ✗ glyph as a bare ``7``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pytest

from baselines.reported import CELLS_PER_TABLE, read_paper_tables, reported_records

EXCERPT = Path(__file__).parent / "paper_text" / "onegan_tables_excerpt.txt"
FULL_PAPER = Path("/work/shared/paper/onegan.txt")
DATASETS = ("cub", "dogs", "cars")


def _row_tokens(lines: list[str], label: str) -> list[str]:
    """The tokens after ``label`` on the first line starting with it (labels may touch the numbers)."""
    for line in lines:
        if line.startswith(label) and re.match(r"[\s\d.]", line[len(label):] or " "):
            return line[len(label):].split()
    raise AssertionError(f"row {label!r} not found")


def _section(text: str, start: str, end: str) -> list[str]:
    body = text[text.index(start):]
    return body[:body.index(end)].splitlines()


def _parse_cell(token: str) -> tuple[float, str]:
    if token == "7":  # the ✗ glyph in this text extraction
        return math.nan, "✗"
    mark = "∗" if token.endswith("∗") else ""
    return float(token.rstrip("∗")), mark


@pytest.fixture(scope="module")
def paper_text() -> str:
    return EXCERPT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def csv_cells() -> dict[tuple, dict]:
    cells = {}
    for row in read_paper_tables():
        key = (row["table"], row["block"], row["row"], row["dataset"], row["metric"])
        assert key not in cells, f"duplicate cell {key}"
        cells[key] = row
    return cells


def test_excerpt_is_verbatim_from_paper() -> None:
    if not FULL_PAPER.is_file():
        pytest.skip("paper text not available on this machine")
    assert EXCERPT.read_text(encoding="utf-8") in FULL_PAPER.read_text(encoding="utf-8")


def test_cell_counts_per_table(csv_cells) -> None:
    counts = Counter(key[0] for key in csv_cells)
    assert dict(counts) == CELLS_PER_TABLE
    marks = Counter(cell["mark"] for cell in csv_cells.values() if cell["table"] == "2")
    assert marks["✗"] == 54          # 5 segmentation-only rows + 4 clustering-only rows, 6 cells each
    assert marks["∗"] == 6 + 12      # StackGANv2 clustering, FineGAN everything
    assert marks["†"] == 12          # JULE, DEPICT clustering
    assert marks["§"] == 18          # UISB, two IIC-seg rows: segmentation


def test_table1_every_cell_matches_paper(paper_text, csv_cells) -> None:
    lines = _section(paper_text, "Model FID IS CFID CIS", "Datasets We evaluate")
    labels = {"Dataset": "reference", "StackGANv2": "baselines", "FineGAN": "baselines",
              "OneGAN": "ours", "no real recon": "ablation", "Phase I only": "ablation",
              "no multi-phase": "ablation"}
    checked = 0
    for label, block in labels.items():
        tokens = _row_tokens(lines, label)
        assert len(tokens) == 12
        for i, token in enumerate(tokens):
            key = ("1", block, label, DATASETS[i // 4], ("FID", "IS", "CFID", "CIS")[i % 4])
            assert csv_cells[key]["value"] == pytest.approx(float(token)), key
            checked += 1
    assert checked == CELLS_PER_TABLE["1"]


def test_table2_every_cell_matches_paper(paper_text, csv_cells) -> None:
    lines = _section(paper_text, "Model IOU DICE", "Table 3.")
    labels = {"ReDO": "baselines", "WNet": "baselines", "UISB§": "baselines",
              "IIC-seg stf-3§": "baselines", "IIC-seg stf§": "baselines", "JULE†": "baselines",
              "DEPICT†": "baselines", "IIC-cluster": "baselines", "StackGANv2": "baselines",
              "FineGAN": "baselines", "OneGAN": "ours", "no real recon": "ablation",
              "Phase I only": "ablation", "no multi-phase": "ablation"}
    checked = 0
    for label, block in labels.items():
        tokens = _row_tokens(lines, label)
        assert len(tokens) == 12, label
        printed = label + ("∗" if any(t.endswith("∗") for t in tokens) else "")
        row_mark = printed[-1] if printed[-1] in "§†∗" else ""
        for i, token in enumerate(tokens):
            dataset = DATASETS[(i % 6) // 2]
            metric = ("IOU", "DICE")[i % 2] if i < 6 else ("ACC", "NMI")[i % 2]
            value, mark = _parse_cell(token)
            cell = csv_cells[("2", block, printed, dataset, metric)]
            if mark == "✗":
                assert cell["mark"] == "✗" and math.isnan(cell["value"]), (label, dataset, metric)
            else:
                assert cell["value"] == pytest.approx(value), (label, dataset, metric)
                assert cell["mark"] == (mark or row_mark), (label, dataset, metric)
            checked += 1
    assert checked == CELLS_PER_TABLE["2"]


def test_table3_every_cell_matches_paper(paper_text, csv_cells) -> None:
    lines = _section(paper_text, "Table 3.", "(a) (b) (c)")
    starts = [i for i, line in enumerate(lines) if line.startswith("Model FID C-IS IOU")]
    assert len(starts) == 3
    blocks = ("(a) normalization", "(b) modules", "(c) losses")
    labels = (("OneGAN", "GLU-INorm", "LNorm", "INorm"),
              ("OneGAN", "no bypass", "no mixup(1,2)", "no mixup(3,4)"),
              ("OneGAN", "no loss LRM", "no loss LVAE", "no loss LPER"))
    checked = 0
    for start, block, block_labels in zip(starts, blocks, labels, strict=True):
        block_lines = lines[start + 1:start + 8]
        for label in block_labels:
            tokens = _row_tokens(block_lines, label)
            for token, metric in zip(tokens, ("FID", "CIS", "IOU"), strict=True):
                assert csv_cells[("3", block, label, "cub", metric)]["value"] == pytest.approx(float(token))
                checked += 1
    assert checked == CELLS_PER_TABLE["3"]


def test_reported_records_shape() -> None:
    records = reported_records()
    assert len(records) == sum(CELLS_PER_TABLE.values())
    onegan_cub_iou = [r for r in records if r["method"] == "OneGAN" and r["table"] == "2"
                      and r["dataset"] == "cub" and r["metric"] == "IOU"]
    assert onegan_cub_iou == [{"method": "OneGAN", "dataset": "cub", "task": "segment", "metric": "IOU",
                               "value": 55.5, "source": "reported", "mark": "", "table": "2",
                               "block": "ours", "row": "OneGAN"}]
    assert all(r["value"] is None for r in records if r["mark"] == "✗")
    assert {r["task"] for r in records} == {"generate", "segment", "cluster"}
