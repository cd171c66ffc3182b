"""``bench table``: render the paper's Tables 1-3 from result records only (never typed numbers).

Measured rows (mean ± std over seeds, from ``records.jsonl``) stand beside the paper's reported rows
(``baselines.reported``, marked "(paper)" with their footnote marks); the best value of each column is
bold, arrows give each metric's direction. Every table belongs to one evaluation protocol
(``benchmark.protocols``; named in its title): records scored under another protocol go to that
protocol's own tables, with the reported rows of the paper that defined it (C3-GAN's, DRC's).
Formats: booktabs LaTeX (a standalone document),
Markdown (for the README and docs/) and plain text (the end-of-run summary).

    bench table [--results DIR] --format {latex,latex-fragment,markdown,plain} [--tables 1,2,3]
                [--reported all|none] [--output FILE]

``--output`` names the file written (``--out``, its old name, still works with a deprecation note:
``bench run --out`` names a folder). A row is a method's title, an external method's ``name=``.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate

from baselines.reported import later_sota_records, reported_records
from benchmark import metric_registry, protocols
from benchmark.claims import claims_text
from benchmark.methods import METHODS, title_of
from benchmark.records import RECORDS_FILE
from benchmark.seed_spread import seed_std
from core.atomic import read_jsonl, write_text_atomic
from core.cli_options import cli
from core.errors import UserError
from onegan.config import ABLATION_ROWS

DATASET_TITLES = {"cub": "Birds", "dogs": "Dogs", "cars": "Cars", "synthetic": "Synthetic"}
# Each table's metric columns, from the metric declarations (benchmark.metric_registry).
TABLE_METRICS = {t: metric_registry.table_columns(t) for t in metric_registry.TABLES}
TABLE_CAPTIONS = {
    "1": "Generation: FID, IS, CFID (within-class FID), CIS (between-class IS)",
    "2": "Segmentation (IOU, DICE, %) and clustering (ACC, NMI)",
    "3": "Ablations: (a) normalisation, (b) modules, (c) losses",
}
# Ablation variants as the paper labels them, by table block (declared in onegan.config.ABLATION_ROWS).
TABLE12_ABLATIONS = {row.name: row.label for row in ABLATION_ROWS if row.table == "1-2"}
TABLE3_BLOCKS = {block: {row.name: row.label for row in ABLATION_ROWS if row.block == block}
                 for block in dict.fromkeys(row.block for row in ABLATION_ROWS if row.table == "3")}
# A measured value whose training stopped at max_minutes before its iteration budget.
CUT_SHORT_MARK = "‡"
CUT_SHORT_NOTE = ("‡ cut short: training stopped at max_minutes before its iteration budget "
                  "(the next bench run resumes it)")
# A measured value scored on a subset of the task's images (a preset's max_eval_images, e.g. smoke's
# 200): the note says how many of how many.
SUBSET_MARK = "ˢ"
# A metric computed under other options stands in another's column only with its mark and this note
# (the IS of fewer than 100 images, on one split, in the IS column).
STAND_IN_NOTES = {metric_registry.ONE_SPLIT_MARK: metric_registry.ONE_SPLIT_NOTE}


@dataclass
class Row:
    label: str
    source: str                                   # "measured" | "reported" | "reference"
    cells: dict[tuple[str, str], tuple[float | None, float | None, str]] = field(default_factory=dict)


@dataclass
class Table:
    number: str
    datasets: list[str]
    metrics: tuple[str, ...]
    blocks: list[tuple[str, list[Row]]]
    protocol: str = protocols.LEGACY_TAG
    # (dataset, task) -> {(images scored, images of the task)} of the cells marked SUBSET_MARK
    subsets: dict[tuple[str, str], set[tuple[int, int]]] = field(default_factory=dict)


def _title(table: Table) -> str:
    return f"Table {table.number}. {TABLE_CAPTIONS[table.number]} [protocol {table.protocol}]"


class Stats(dict):
    """``aggregate``'s mapping, plus the keys whose latest record (of some seed) was cut short, and
    those scored on a subset of the task's images (key -> {(images, images_total)})."""

    cut_short: set[tuple]
    subset: dict[tuple, set[tuple[int, int]]]


def aggregate(records: list[dict]) -> Stats:
    """(protocol, dataset, method, variant, metric) → (mean, std, n seeds); the latest record per seed
    wins. ``protocol`` is the record's protocol tag (records older than protocols: OneGAN's); ``metric``
    the declared name of what the record holds (``metric_registry.record_metric``: an old one-split
    "is" reads as ``is_1split``).
    ``.cut_short`` holds the keys where that record's training stopped before its budget (‡)."""
    latest: dict[tuple, dict] = {}
    for r in records:
        if r.get("source", "measured") != "measured":
            continue
        key = (protocols.tag_of(r), r["dataset"], r["method"], r.get("variant") or "",
               metric_registry.record_metric(r), r["seed"])
        latest[key] = r
    grouped: dict[tuple, list[float]] = defaultdict(list)
    stats = Stats()
    stats.cut_short, stats.subset = set(), {}
    for (protocol, dataset, method, variant, metric, _seed), record in latest.items():
        grouped[(protocol, dataset, method, variant, metric)].append(record["value"])
        if record.get("cut_short"):
            stats.cut_short.add((protocol, dataset, method, variant, metric))
        scored, total = (record.get("options") or {}).get("images"), (record.get("options") or {}).get("images_total")
        if isinstance(scored, int) and isinstance(total, int) and scored < total:
            stats.subset.setdefault((protocol, dataset, method, variant, metric), set()).add((scored, total))
    stats.update({k: (float(np.mean(v)), seed_std(v) if len(v) > 1 else None, len(v))
                  for k, v in grouped.items()})
    return stats


def _measured_row(label: str, stats: dict, datasets: list[str], metrics: tuple[str, ...], method: str,
                  variant: str, source: str = "measured", oracle: bool = False) -> Row | None:
    """A row's cells; a column without its own metric shows a declared stand-in (``is_1split`` in the
    IS column) with the stand-in's mark. The § oracle's metrics fill only the row asked for with
    ``oracle`` (a row of their own: an upper bound, not the method's own masks)."""
    row = Row(label, source)
    for d in datasets:
        for m in metrics:
            for metric in (metric_registry.get(m), *metric_registry.stand_ins(m)):
                if (metric.mark == metric_registry.ORACLE_MARK) != oracle:
                    continue
                key = (d, method, variant, metric.name)
                if key in stats:
                    mean, std, _ = stats[key]
                    short = CUT_SHORT_MARK if key in getattr(stats, "cut_short", ()) else ""
                    subset = SUBSET_MARK if key in getattr(stats, "subset", {}) else ""
                    row.cells[(d, m)] = (mean, std, metric.mark + short + subset)
                    break
    return row if row.cells else None


def _reported_rows(reported: list[dict], table: str, metrics: tuple[str, ...]) -> list[tuple[str, list[Row]]]:
    blocks: dict[str, dict[str, Row]] = {}
    for r in reported:
        if r.get("table") != table:
            continue
        metric = metric_registry.from_reported(r["metric"])
        if metric not in metrics:
            continue
        rows = blocks.setdefault(r["block"], {})
        row = rows.setdefault(r["row"], Row(f"{r['row']} (paper)", "reference" if r["row"] == "Dataset" else
                                            "reported"))
        row.cells[(r["dataset"], metric)] = (r["value"], None, r["mark"])
    return [(f"paper {block}", list(rows.values())) for block, rows in blocks.items()]


def _later_rows(reported: list[dict], metrics: tuple[str, ...]) -> list[tuple[str, list[Row]]]:
    """Reported rows of later papers (already filtered to one protocol), one block per source."""
    blocks: dict[str, dict[str, Row]] = {}
    for r in reported:
        metric = metric_registry.from_reported(r["metric"])
        if metric in metrics:
            row = blocks.setdefault(r["block"], {}).setdefault(r["row"], Row(f"{r['row']} (reported)", "reported"))
            row.cells[(r["dataset"], metric)] = (r["value"], None, "")
    return [(f"reported: {block}", list(rows.values())) for block, rows in blocks.items()]


def build_tables(records: list[dict], tables: list[str], reported: str = "all") -> list[Table]:
    """The requested tables for every protocol that has measured records (or, with ``reported="all"``,
    reported rows): one set of tables per protocol, never two protocols in one column."""
    stats = aggregate(records)
    later = later_sota_records() if reported != "none" else []
    tags = {k[0] for k in stats} | {protocols.get(r["protocol"]).tag for r in later}
    out = []
    for tag in sorted(tags, key=lambda t: (protocols.names().index(t.split("@")[0])
                                           if t.split("@")[0] in protocols.names() else 99, t)):
        own = Stats({k[1:]: v for k, v in stats.items() if k[0] == tag})
        own.cut_short = {k[1:] for k in stats.cut_short if k[0] == tag}
        own.subset = {k[1:]: v for k, v in stats.subset.items() if k[0] == tag}
        own_later = [r for r in later if protocols.get(r["protocol"]).tag == tag]
        out += _protocol_tables(own, tables, reported, tag, own_later)
    return out


def _protocol_metrics(tag: str, number: str) -> tuple[str, ...]:
    """Table ``number``'s columns that the protocol defines (all of them for unknown tags)."""
    name = tag.split("@")[0]
    if name not in protocols.names():
        return TABLE_METRICS[number]
    return tuple(m for m in TABLE_METRICS[number] if protocols.get(name).defines(metric_registry.get(m).task))


def _protocol_tables(stats: dict, tables: list[str], reported: str, tag: str, later: list[dict]) -> list[Table]:
    measured_datasets = sorted({k[0] for k in stats}, key=lambda d: (d not in DATASET_TITLES, d))
    is_onegan = tag.split("@")[0] == protocols.DEFAULT
    rep = reported_records() if reported != "none" and is_onegan else []
    methods = sorted({(k[1], k[2]) for k in stats})
    out = []
    for number in tables:
        metrics = _protocol_metrics(tag, number)
        if not metrics:
            continue
        datasets = list(measured_datasets)
        if rep or later:
            datasets = [d for d in ("cub", "dogs", "cars") if number != "3" or d == "cub"] + \
                [d for d in measured_datasets if d not in ("cub", "dogs", "cars")]
        blocks: list[tuple[str, list[Row]]] = []
        if number in ("1", "2"):
            rows = []
            if number == "1":
                ref = _measured_row("Dataset", stats, datasets, metrics, "dataset", "", "reference")
                rows += [ref] if ref else []
            for method, variant in methods:
                if method == "dataset" or variant:
                    continue
                source = "reference" if method in METHODS and METHODS[method].uses_labels else "measured"
                row = _measured_row(title_of(method), stats, datasets, metrics, method, "", source)
                rows += [row] if row else []
                oracle_row = _measured_row(title_of(method) + metric_registry.ORACLE_MARK, stats, datasets,
                                           metrics, method, "", source, oracle=True)
                rows += [oracle_row] if oracle_row else []
            blocks.append(("measured", rows))
            # The ablation rows trained at the ablation budget, beside the unablated OneGAN at that budget.
            ablations = [_measured_row(f"OneGAN {label}", stats, datasets, metrics, "onegan", v)
                         for v, label in (("reference", "(same budget)"), *TABLE12_ABLATIONS.items())]
            blocks.append(("measured ablations", [r for r in ablations if r]))
        else:
            for block, variants in TABLE3_BLOCKS.items():
                ref = _measured_row("OneGAN (same budget)", stats, datasets, metrics, "onegan", "reference")
                rows = [ref] if ref else []
                rows += [r for v, label in variants.items()
                         if (r := _measured_row(label, stats, datasets, metrics, "onegan", v))]
                if rows:
                    blocks.append((f"measured {block}", rows))
        blocks += _reported_rows(rep, number, metrics)
        if number == "2":
            blocks += _later_rows(later, metrics)
        blocks = [(name, rows) for name, rows in blocks if rows]
        if blocks:
            subsets: dict[tuple[str, str], set[tuple[int, int]]] = {}
            for (d, _method, _variant, metric), counts in getattr(stats, "subset", {}).items():
                if d in datasets and metric_registry.is_declared(metric) and \
                        metric_registry.get(metric).shown_in in metrics:
                    subsets.setdefault((d, metric_registry.get(metric).task), set()).update(counts)
            out.append(Table(number, datasets, metrics, blocks, tag, subsets))
    return out


def _stand_in(mark: str) -> str:
    """The stand-in mark among a cell's marks ("" for a column's own metric)."""
    return next((c for c in mark if c in STAND_IN_NOTES), "")


def _best(table: Table) -> dict[tuple[str, str], tuple[float, str]]:
    """(dataset, column) → (best value, the stand-in mark it carries). A column's own metric is ranked;
    stand-ins (another metric in its column) only where the column has none of its own."""
    best = {}
    for d in table.datasets:
        for m in table.metrics:
            cells = [row.cells[(d, m)] for _, rows in table.blocks for row in rows
                     if row.source != "reference" and (d, m) in row.cells and row.cells[(d, m)][0] is not None
                     and metric_registry.ORACLE_MARK not in row.cells[(d, m)][2]]
            for kind in sorted({_stand_in(c[2]) for c in cells})[:1]:  # "" (the column's own) sorts first
                values = [c[0] for c in cells if _stand_in(c[2]) == kind]
                best[(d, m)] = (max(values) if metric_registry.get(m).higher_is_better else min(values), kind)
    return best


def _format_value(metric: str, value: float | None, std: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    fraction = metric_registry.get(metric).fraction
    fmt = (lambda v: f"{v:.3f}".replace("0.", ".", 1)) if fraction else (lambda v: f"{v:.1f}")
    return fmt(value) + (f" ± {fmt(std)}" if std is not None else "")


_MARKS_LATEX = {"§": r"\S", "†": r"$^\dagger$", "∗": r"$^*$", "✗": r"$\times$", "": "", "‡": r"$^\ddagger$",
                metric_registry.ONE_SPLIT_MARK: r"$^1$", SUBSET_MARK: r"$^{s}$"}
_ARROWS = {True: ("↑", r"$\uparrow$"), False: ("↓", r"$\downarrow$")}


def _cell_text(table: Table, row: Row, d: str, m: str, best: dict, latex: bool) -> str:
    if (d, m) not in row.cells:
        return "–" if not latex else "--"
    value, std, mark = row.cells[(d, m)]
    if mark == "✗":
        return _MARKS_LATEX["✗"] if latex else "✗"
    text = _format_value(m, value, std)
    is_best = (row.source != "reference" and value is not None and best.get((d, m)) == (value, _stand_in(mark))
               and metric_registry.ORACLE_MARK not in mark)
    if is_best:
        text = rf"\textbf{{{text}}}" if latex else f"**{text}**"
    if mark:
        text += "".join(_MARKS_LATEX[c] for c in mark) if latex else mark
    return text.replace("±", r"$\pm$") if latex else text


def render(tables: list[Table], fmt: str) -> str:
    """Render tables as ``latex`` (standalone booktabs document), ``latex-fragment`` (the tables only,
    for ``\\input``), ``markdown`` or ``plain``."""
    if fmt in ("latex", "latex-fragment"):
        return _render_latex(tables, fragment=fmt == "latex-fragment")
    parts = []
    for table in tables:
        best = _best(table)
        headers = ["Model"] + [f"{DATASET_TITLES.get(d, d)} {_header(m, 0)}" for d in table.datasets
                               for m in table.metrics]
        body = []
        for block, rows in table.blocks:
            body.append([f"*{block}*" if fmt == "markdown" else f"[{block}]"] + [""] * (len(headers) - 1))
            for row in rows:
                body.append([row.label] + [_cell_text(table, row, d, m, best, False)
                                           for d in table.datasets for m in table.metrics])
        title = _title(table)
        parts.append((f"**{title}**" if fmt == "markdown" else title) + "\n\n" +
                     tabulate(body, headers=headers, tablefmt="github" if fmt == "markdown" else "simple"))
        parts += _notes(table)
    return "\n\n".join(parts) + "\n"


def _header(metric: str, latex: int) -> str:
    declared = metric_registry.get(metric)
    return declared.title + _ARROWS[declared.higher_is_better][latex]


def _marks(table: Table) -> set[str]:
    return {c for _, rows in table.blocks for row in rows for cell in row.cells.values() for c in cell[2]}


def _notes(table: Table) -> list[str]:
    """The notes of the marks the table uses: cut short (‡), stand-ins (¹), scored on a subset (ˢ), the
    measured § oracle."""
    marks = _marks(table)
    notes = ([CUT_SHORT_NOTE] if CUT_SHORT_MARK in marks else []) + \
        [note for mark, note in STAND_IN_NOTES.items() if mark in marks]
    if SUBSET_MARK in marks and table.subsets:
        counts = "; ".join(f"{DATASET_TITLES.get(d, d)} {task} {', '.join(f'{n} of {t}' for n, t in sorted(c))}"
                           for (d, task), c in sorted(table.subsets.items()))
        notes.append(f"{SUBSET_MARK} scored on a subset of the task's images (the preset's max_eval_images): "
                     f"{counts} images")
    measured_oracle = any(row.source == "measured" and metric_registry.ORACLE_MARK in cell[2]
                          for _, rows in table.blocks for row in rows for cell in row.cells.values())
    return notes + ([metric_registry.ORACLE_NOTE] if measured_oracle else [])


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_escape(text: str) -> str:
    """Plain text (row labels, also a user's external ``name=``) as LaTeX; the marks as symbols."""
    text = "".join(_LATEX_SPECIAL.get(c, c) for c in text)
    return (text.replace("_", r"\_").replace("§", r"\S").replace("†", r"$^\dagger$").replace("∗", r"$^*$")
            .replace("&", r"\&").replace("%", r"\%"))


# A table wider than the line is scaled down to it (never up): the paper's Table 2 with every dataset
# has 17 columns, wider than a landscape page. graphicx is in every LaTeX installation.
_LATEX_FIT = [r"\makeatletter\@ifundefined{onegantablebox}{\newsavebox{\onegantablebox}}{}\makeatother",
              r"\providecommand{\onegantablefit}[1]{\sbox{\onegantablebox}{#1}%",
              r"  \ifdim\wd\onegantablebox>\linewidth\resizebox{\linewidth}{!}{\usebox{\onegantablebox}}%",
              r"  \else\usebox{\onegantablebox}\fi}"]
LATEX_PACKAGES = ("booktabs", "graphicx")


def _render_latex(tables: list[Table], fragment: bool = False) -> str:
    r"""A standalone landscape document, or (``fragment``) only the tables, for ``\input`` in a
    document that loads booktabs and graphicx. Each table is scaled down to the line when wider."""
    if fragment:
        lines = [f"% Tables 1-3 from bench table; needs \\usepackage{{{','.join(LATEX_PACKAGES)}}}", *_LATEX_FIT]
    else:
        lines = [r"\documentclass{article}", rf"\usepackage{{{','.join(LATEX_PACKAGES)}}}",
                 r"\usepackage[margin=1cm,landscape]{geometry}", *_LATEX_FIT, r"\begin{document}"]
    for table in tables:
        best = _best(table)
        n = len(table.datasets) * len(table.metrics)
        lines += [r"\begin{table}[!htbp]", r"\centering", r"\scriptsize",
                  rf"\caption{{{_latex_escape(_title(table).split('. ', 1)[1])}}}",
                  r"\onegantablefit{\begin{tabular}{l" + "r" * n + "}", r"\toprule"]
        lines.append(" & ".join(["Model"] + [rf"\multicolumn{{{len(table.metrics)}}}{{c}}"
                                             rf"{{{DATASET_TITLES.get(d, d)}}}" for d in table.datasets]) + r" \\")
        lines.append(" & ".join([""] + [_header(m, 1) for _ in table.datasets for m in table.metrics]) + r" \\")
        for block, rows in table.blocks:
            lines += [r"\midrule", rf"\multicolumn{{{n + 1}}}{{l}}{{\emph{{{_latex_escape(block)}}}}} \\"]
            for row in rows:
                cells = [_cell_text(table, row, d, m, best, True) for d in table.datasets for m in table.metrics]
                lines.append(" & ".join([_latex_escape(row.label)] + cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}}"]
        for note in _notes(table):
            lines.append(r"\par\smallskip " + _MARKS_LATEX[note[0]] + _latex_escape(note[1:]))
        lines.append(r"\end{table}")
    if not fragment:
        lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


def load_records(results: str | Path) -> list[dict]:
    path = Path(results)
    files = [path] if path.is_file() else sorted(path.rglob(RECORDS_FILE))
    if not files:
        raise UserError(f"no {RECORDS_FILE} found under {path} (run `bench run` first)")
    return [r for f in files for r in read_jsonl(f)]


FORMATS = ("latex", "latex-fragment", "markdown", "plain")


@dataclass(frozen=True)
class TableOptions:
    """What ``bench table`` (and ``table``) takes; field order is the help's order."""

    results: str | Path = field(default="results/latest", metadata=cli("a records.jsonl or a directory of them"))
    format: str = field(default="markdown", metadata=cli(
        "latex: a standalone document; latex-fragment: the tables only, for \\input in a document that loads "
        "booktabs and graphicx", choices=FORMATS))
    tables: str = field(default="1,2,3", metadata=cli(
        "comma list of the tables to render: 1 (generation), 2 (segmentation and clustering), 3 (ablations); "
        "default all three"))
    reported: str = field(default="all", metadata=cli(
        "show the paper's reported rows beside the measured ones", choices=["all", "none"]))
    output: str | Path | None = field(default=None, metadata=cli(
        "write to this file instead of stdout", flag=("--output", "-o"), metavar="FILE"))
    out: str | Path | None = field(default=None, metadata=cli(
        "deprecated name of --output (bench run's --out is a folder, this one a file)", metavar="FILE"))
    claims: bool = field(default=False, metadata=cli(
        "only print the demo's claims on the records (mean − std over seeds against each floor; markdown)"))


DEFAULTS = TableOptions()


def table(results: str | Path = DEFAULTS.results, format: str = DEFAULTS.format, tables: str = DEFAULTS.tables,
          reported: str = DEFAULTS.reported, output: str | Path | None = DEFAULTS.output, *,
          out: str | Path | None = DEFAULTS.out, claims: bool = DEFAULTS.claims) -> str:
    """The API behind ``bench table`` (the options of ``TableOptions``): the tables rendered from the
    records under ``results``, written to ``output`` or else printed; returns the text. ``out`` is the
    deprecated name of ``output`` (the file written; ``bench run --out`` is a folder). ``claims``: only
    print (and return) the demo's claims on the records."""
    if claims:
        text = claims_text(load_records(results))
        print(text or f"no OneGAN records under {results}")
        return text
    if out is not None:
        print("bench table: --out is deprecated (it names a file, where bench run's --out names a folder); "
              "use --output FILE", file=sys.stderr)
        if output is not None:
            raise UserError("give --output only (--out is its deprecated name)")
    output = output if output is not None else out
    if output is not None and Path(output).is_dir():
        raise UserError(f"{output} is a folder; bench table writes one file: give --output FILE "
                        "(e.g. tables.tex)")
    numbers = [t.strip() for t in tables.split(",") if t.strip()]
    bad = [t for t in numbers if t not in TABLE_METRICS]
    if bad:
        raise UserError(f"unknown table {bad[0]!r}; choose from 1, 2, 3")
    text = render(build_tables(load_records(results), numbers, reported), format)
    if output:
        write_text_atomic(output, text)
    else:
        print(text, end="")
    return text


def summary_table(records: list[dict], fingerprint: str | None = None) -> str:
    """The end-of-run summary: measured rows of every table, plain text."""
    chosen = [r for r in records if fingerprint is None or r.get("dataset_fingerprint") == fingerprint]
    claims = claims_text(chosen, "simple")
    return render(build_tables(chosen, ["1", "2", "3"], reported="none"), "plain") + (
        f"\nClaims [{protocols.PROTOCOLS[protocols.DEFAULT].tag}]\n{claims}\n" if claims else "")

