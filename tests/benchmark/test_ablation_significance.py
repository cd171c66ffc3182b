"""scripts/ablation_significance.py: Table 3's rows against the reference, with Welch's p."""

import json
import subprocess
import sys
from pathlib import Path

from scipy.stats import ttest_ind

REPO = Path(__file__).resolve().parents[2]


def _records(path: Path, rows: dict[str, list[float]]) -> None:
    lines = [json.dumps({"method": "onegan", "variant": variant, "metric": "iou", "seed": seed, "value": value})
             for variant, values in rows.items() for seed, value in enumerate(values)]
    lines.append(json.dumps({"method": "centered_box", "variant": None, "metric": "iou", "seed": 0, "value": 1.0}))
    path.write_text("\n".join(lines) + "\n")


def test_differences_and_welch_p_against_the_reference(tmp_path):
    rows = {"reference": [68.0, 70.0, 69.0], "no-bypass": [51.0, 52.0, 50.0], "lnorm": [70.0, 67.0, 69.5]}
    _records(tmp_path / "records.jsonl", rows)
    out = subprocess.run([sys.executable, "scripts/ablation_significance.py", str(tmp_path / "records.jsonl")],
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=True).stdout
    far = ttest_ind(rows["no-bypass"], rows["reference"], equal_var=False).pvalue
    near = ttest_ind(rows["lnorm"], rows["reference"], equal_var=False).pvalue
    assert far < 0.05 < near
    line = {cells.split("|")[1].strip(): cells for cells in out.splitlines() if cells.startswith("| ")}
    assert "69.0 ± 1.0 |" in line["reference"]
    shown = "p < .01" if far < 0.01 else f"p {far:.2f}"
    assert f"51.0 ± 1.0 (**-18.0, {shown}**)" in line["no-bypass"]  # bold: a clear difference
    assert f"(-0.2, p {near:.2f})" in line["lnorm"] and "**" not in line["lnorm"]
    assert "centered_box" not in out  # OneGAN's rows only


def test_without_a_reference_row_it_says_so(tmp_path):
    _records(tmp_path / "records.jsonl", {"lnorm": [1.0, 2.0]})
    done = subprocess.run([sys.executable, "scripts/ablation_significance.py", str(tmp_path / "records.jsonl")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "no 'reference' row" in done.stderr
