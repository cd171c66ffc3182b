"""The numbers the OneGAN paper reports (Tables 1-3), as data, so tables can show reported rows beside
measured ones.

The data live in ``results/reported/paper_tables.csv``, one row per table cell (long format):

    table   "1", "2" or "3"
    block   the row group: Table 1/2 ``reference`` | ``baselines`` | ``ours`` | ``ablation``;
            Table 3 ``(a) normalization`` | ``(b) modules`` | ``(c) losses``
    row     the row label exactly as printed (footnote mark included, e.g. ``UISB§``)
    method  a stable identifier (``OneGAN``, ``OneGAN/no-real-recon``, ``FineGAN``, ``IIC-seg stf-3``, ...)
    dataset ``cub`` (the paper's "Birds"), ``dogs``, ``cars``  (Table 3 is on CUB only)
    task    ``generate`` | ``segment`` | ``cluster``
    metric  ``FID``, ``IS``, ``CFID``, ``CIS`` (Table 3's "C-IS"), ``IOU``, ``DICE``, ``ACC``, ``NMI``
    value   as printed: IOU/DICE in percent (55.5), ACC/NMI as fractions (.101); empty for a ✗ cell
    mark    the paper's footnote mark of the cell: ``§`` unfair upper bound (best of many runs),
            ``†`` numbers provided by FineGAN [26], ``∗`` the task was done through OneGAN's encoders,
            ``✗`` the model cannot perform the task (value empty); empty otherwise

Counts: Table 1 has 7 rows x 12 cells = 84; Table 2 has 14 rows x 12 = 168 (54 of them ✗);
Table 3 has 3 blocks x 4 rows x 3 = 36 (OneGAN is repeated in each block) -> 288 cells.
The numbers were typed by hand from the paper; ``tests/baselines/test_reported.py`` re-parses the
paper's text and compares every cell.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from core.errors import UserError

PAPER_TABLES_CSV = Path(__file__).resolve().parent.parent / "results" / "reported" / "paper_tables.csv"
COLUMNS = ("table", "block", "row", "method", "dataset", "task", "metric", "value", "mark")
MARKS = {
    "§": "unfair upper bound: best result out of many",
    "†": "provided by FineGAN [26]",
    "∗": "task performed through OneGAN's encoders",
    "✗": "model cannot perform the task",
    "": "",
}
CELLS_PER_TABLE = {"1": 84, "2": 168, "3": 36}


def _csv_rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict]]:
    """(line number, row) of a reported-numbers CSV whose header must be exactly ``columns``."""
    if not path.is_file():
        raise UserError(f"reported-numbers table not found: {path}")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != columns:
            raise UserError(f"{path}: expected columns {list(columns)}, found {reader.fieldnames}")
        return list(enumerate(reader, start=2))


def read_paper_tables(path: str | Path = PAPER_TABLES_CSV) -> list[dict]:
    """Rows of the long-format CSV as dicts, ``value`` a float (NaN for ✗ cells)."""
    path = Path(path)
    rows = []
    for line_no, row in _csv_rows(path, COLUMNS):
        if row["mark"] not in MARKS:
            raise UserError(f"{path}:{line_no}: unknown footnote mark {row['mark']!r}")
        if row["mark"] == "✗":
            if row["value"]:
                raise UserError(f"{path}:{line_no}: a ✗ cell must have an empty value")
            row["value"] = math.nan
        else:
            try:
                row["value"] = float(row["value"])
            except ValueError:
                raise UserError(f"{path}:{line_no}: value {row['value']!r} is not a number") from None
        rows.append(row)
    return rows


def reported_records(path: str | Path = PAPER_TABLES_CSV) -> list[dict]:
    """The paper's cells as benchmark result records.

    Each record: ``method, dataset, task, metric, value, source="reported", mark`` plus ``table``,
    ``block`` and ``row`` (the printed label). ``value`` is None for ✗ cells.
    """
    records = []
    for row in read_paper_tables(path):
        value = None if math.isnan(row["value"]) else row["value"]
        records.append({
            "method": row["method"], "dataset": row["dataset"], "task": row["task"],
            "metric": row["metric"], "value": value, "source": "reported", "mark": row["mark"],
            "table": row["table"], "block": row["block"], "row": row["row"],
        })
    return records


# ---- The later state of the art, under the protocol each paper scored with --------------------------
LATER_SOTA_CSV = PAPER_TABLES_CSV.parent / "later_sota.csv"
LATER_COLUMNS = ("protocol", "source", "row", "method", "dataset", "task", "metric", "printed", "unit", "setting",
                 "verified", "where_read")
# The benchmark's units: ACC/NMI as fractions, IOU/DICE in percent.
_FRACTION_METRICS = ("ACC", "NMI")


def read_later_sota(path: str | Path = LATER_SOTA_CSV) -> list[dict]:
    """Rows of ``results/reported/later_sota.csv``: numbers later papers report, one per cell.

    Columns: ``protocol`` (a ``benchmark.protocols`` name: the convention the number was scored
    under), ``source`` and ``where_read`` (where the number was read), ``row`` (the label to print),
    ``method``, ``dataset``, ``task``, ``metric``, ``printed`` (as printed at the source) with its
    ``unit`` (``percent`` or ``fraction``), ``setting`` (e.g. DRC's all-data vs test split) and
    ``verified`` (``no``: read second-hand, e.g. on an aggregator, not in the paper or repository).
    """
    path = Path(path)
    rows = []
    for line_no, row in _csv_rows(path, LATER_COLUMNS):
        if row["unit"] not in ("percent", "fraction") or row["verified"] not in ("yes", "no"):
            raise UserError(f"{path}:{line_no}: unit must be percent|fraction and verified yes|no")
        try:
            printed = float(row["printed"])
        except ValueError:
            raise UserError(f"{path}:{line_no}: printed value {row['printed']!r} is not a number") from None
        if row["metric"] in _FRACTION_METRICS:
            row["value"] = printed / 100.0 if row["unit"] == "percent" else printed
        else:
            row["value"] = printed * 100.0 if row["unit"] == "fraction" else printed
        rows.append(row)
    return rows


def later_sota_records(path: str | Path = LATER_SOTA_CSV) -> list[dict]:
    """The later papers' cells as records (``source="reported"``, ``protocol`` = the protocol name,
    ``row`` the printed label with ``, unverified`` appended where the number was read second-hand)."""
    records = []
    for row in read_later_sota(path):
        label = row["row"] + ("" if row["verified"] == "yes" else " unverified")
        records.append({"method": row["method"], "dataset": row["dataset"], "task": row["task"],
                        "metric": row["metric"], "value": row["value"], "source": "reported", "mark": "",
                        "protocol": row["protocol"], "row": label, "block": row["source"],
                        "setting": row["setting"], "where_read": row["where_read"]})
    return records
