"""The § oracle through `bench run` and the tables: its own metrics, an upper bound of the method's own
mask, a § row of its own that is never ranked."""

from __future__ import annotations

import pytest

from benchmark.run import run
from benchmark.table import build_tables, render
from core.atomic import read_jsonl
from data_prep.synthetic import write_synthetic


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("data") / "syn", classes=4, parents=2, images=40, size=24, seed=1)


def test_label_map_methods_get_oracle_records_beside_their_own(prepared_dir, tmp_path):
    out = tmp_path / "out"
    run(task="segmentation", dataset=str(prepared_dir), methods="uisb,wnet,centred-box", preset="smoke",
        out=out, work=tmp_path / "work", figures=False, device="cpu")
    values = {(r["method"], r["metric"]): r["value"] for r in read_jsonl(out / "records.jsonl")}
    for method in ("uisb", "wnet"):
        # The method's own mask is one of the oracle's candidates image by image (UISB: everything but
        # one label; WNet with K = 2: one class), so the oracle is an upper bound of it.
        assert values[(method, "iou_oracle")] >= values[(method, "iou")] - 1e-9
        assert values[(method, "dice_oracle")] >= values[(method, "dice")] - 1e-9
    assert ("centred-box", "iou_oracle") not in values       # no label map, no oracle
    text = render(build_tables(read_jsonl(out / "records.jsonl"), ["2"], reported="none"), "markdown")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("|")}
    assert "UISB§" in rows and "WNet§" in rows and "UISB" in rows
    assert "**" not in rows["UISB§"] and "§" in rows["UISB§"].split("|")[2]
    assert "§ oracle upper bound" in text


def test_oracle_cells_are_never_bold_even_when_highest():
    def rec(method, metric, value):
        return {"method": method, "variant": None, "dataset": "synthetic", "metric": metric, "value": value,
                "seed": 0, "task": "segmentation", "source": "measured", "dataset_fingerprint": "f"}

    records = [rec("uisb", "iou", 30.0), rec("uisb", "iou_oracle", 90.0), rec("centred-box", "iou", 50.0)]
    text = render(build_tables(records, ["2"], reported="none"), "markdown")
    assert "**50.0**" in text and "90.0§" in text and "**90.0" not in text
    latex = render(build_tables(records, ["2"], reported="none"), "latex")
    assert r"90.0\S" in latex and r"\textbf{90.0" not in latex
