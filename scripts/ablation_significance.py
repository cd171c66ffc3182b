"""Table 3's rows against the unablated model, seed by seed: which differences stand out of the
seed spread.

    .venv/bin/python scripts/ablation_significance.py results/studies/table3_orthonormal/records.jsonl [...]

For every ablation row (``variant``) of OneGAN's records and every metric below: mean ± sample std
over its seeds, the difference of means from the ``reference`` row, and Welch's two-sided t-test p
(unequal variances; with three seeds a row it has little power, so p < .05 marks a clear difference
and p ≥ .05 says only that this many seeds cannot tell). Prints a Markdown table per metric group.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import statistics
from pathlib import Path

from scipy.stats import ttest_ind

METRICS = {"iou": ("IOU", 1), "fid": ("FID", 1), "cis": ("CIS", 2), "acc": ("child ACC", 3),
           "nmi": ("child NMI", 3), "parent_acc": ("parent ACC", 3), "parent_nmi": ("parent NMI", 3),
           "diversity": ("diversity", 2)}
REFERENCE = "reference"


def read_values(paths: list[Path]) -> dict[str, dict[str, dict[int, float]]]:
    """variant -> metric -> seed -> value, OneGAN's records only; a later line for the same cell wins."""
    values: dict = collections.defaultdict(lambda: collections.defaultdict(dict))
    for path in paths:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["method"] == "onegan" and record["metric"] in METRICS:
                values[record["variant"]][record["metric"]][record["seed"]] = record["value"]
    return values


def welch_p(a: list[float], b: list[float]) -> float:
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if statistics.stdev(a) == 0 and statistics.stdev(b) == 0:
        return 0.0 if statistics.mean(a) != statistics.mean(b) else 1.0
    return float(ttest_ind(a, b, equal_var=False).pvalue)


def cell(values: list[float], reference: list[float] | None, digits: int) -> str:
    """``mean ± std``, and against ``reference`` (None for the reference row itself) the difference and p."""
    mean = statistics.mean(values)
    spread = f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else ""
    if reference is None:
        return f"{mean:.{digits}f}{spread}"
    p = welch_p(values, reference)
    mark = "**" if p < 0.05 else ""
    shown = "p < .01" if p < 0.01 else f"p {p:.2f}"
    return f"{mean:.{digits}f}{spread} ({mark}{mean - statistics.mean(reference):+.{digits}f}, {shown}{mark})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("records", nargs="+", type=Path)
    args = parser.parse_args()
    values = read_values(args.records)
    if REFERENCE not in values:
        raise SystemExit(f"no '{REFERENCE}' row among {sorted(values)}")
    variants = [REFERENCE, *sorted(v for v in values if v != REFERENCE)]
    seeds = sorted({s for v in variants for m in values[v].values() for s in m})
    print(f"Seeds {', '.join(map(str, seeds))}; mean ± sample std, (difference from {REFERENCE}, Welch p); "
          "bold: p < .05.\n")
    for group in (("iou", "fid", "cis", "diversity"), ("acc", "nmi", "parent_acc", "parent_nmi")):
        group = tuple(m for m in group if values[REFERENCE].get(m))  # metrics the records hold
        if not group:
            continue
        print("| row | " + " | ".join(METRICS[m][0] for m in group) + " |")
        print("|---" * (len(group) + 1) + "|")
        for variant in variants:
            cells = []
            for metric in group:
                reference = [values[REFERENCE][metric][s] for s in sorted(values[REFERENCE][metric])]
                scores = values[variant].get(metric, {})
                row = [scores[s] for s in sorted(scores)]
                against = None if variant == REFERENCE else reference
                cells.append(cell(row, against, METRICS[metric][1]) if row else "")
            print(f"| {variant} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
