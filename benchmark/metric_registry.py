"""Every metric the benchmark records, declared once (StyleGAN2-ADA's ``metric_main.py`` idea).

A declaration says what a metric *is*: its record name, its task, how it is computed (a reference to
the function it comes from, and a line on the options it runs under), its table column title and
direction, which of the paper's tables show it, and how much ``bench check`` lets it worsen. Tasks,
records, tables, ``bench check`` and the CLI read these declarations; nothing else keeps a list of
metric names.

A metric computed under different options has a different name. The Inception Score over 10 splits
needs at least ``IS_MIN_IMAGES`` images (10 per split); below that it is computed on one split and
recorded as ``is_1split``, which the tables show in the IS column only with the mark
``ONE_SPLIT_MARK`` and a note (never silently as IS).

``cfid`` / ``cis`` are Table 1's CFID and CIS: copies of the conditional metric the paper reports
(``benchmark.metrics.conditional.TABLE1_CFID`` / ``TABLE1_CIS``, WCFID and BCIS; the argument for
that choice is in that module).

The value of every metric is computed under the run's evaluation protocol (``benchmark.protocols``):
segmentation and clustering scores by ``Protocol.score_masks`` / ``score_clusters``, the generation
scores by FineGAN's protocol (OneGAN's only). A record's protocol tag says which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmark.metrics import conditional
from benchmark.metrics.clustering import nmi
from benchmark.metrics.conditional import TABLE1_CFID, TABLE1_CIS
from benchmark.metrics.diversity import diversity_ratio
from benchmark.metrics.fid import fid
from benchmark.metrics.inception_score import inception_score
from benchmark.metrics.oracle import oracle_label_masks
from benchmark.metrics.segmentation import dice, iou
from benchmark.protocols.base import Protocol
from core.errors import UserError

TASKS = ("generation", "segmentation", "clustering")
TABLES = ("1", "2", "3")
# 10 splits of at least 10 images each (torch-fidelity's and the original code's default splits).
IS_SPLITS = 10
IS_MIN_IMAGES = 100
ONE_SPLIT_MARK = "¹"
ONE_SPLIT_NOTE = (f"¹ IS on one split: fewer than {IS_MIN_IMAGES} images were scored (recorded as is_1split; "
                  f"not comparable with the {IS_SPLITS}-split IS)")
# The paper's § (Table 2): an oracle picks, per image, the best label of a multi-label segmentation
# against the ground truth. Its metrics stand in the IOU/DICE columns on a row of their own, never
# ranked against a method's own masks (benchmark.metrics.oracle).
ORACLE_MARK = "§"
ORACLE_NOTE = ("§ oracle upper bound (the paper's §): per image, the one label (or its complement) with the "
               "highest IOU against the ground truth; not ranked")


class UnknownMetricError(UserError):
    """A metric name that no declaration defines."""


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the reference ``bench check`` accepts: ``abs`` in the metric's units, or
    ``rel`` as a fraction of the reference value (for FID/IS-type scores whose scale varies)."""

    kind: str
    amount: float

    def __post_init__(self) -> None:
        if self.kind not in ("abs", "rel") or self.amount < 0:
            raise ValueError(f"tolerance must be ('abs'|'rel', >= 0); got ({self.kind!r}, {self.amount})")

    def allowed(self, reference: float) -> float:
        return self.amount if self.kind == "abs" else self.amount * abs(reference)


@dataclass(frozen=True)
class Metric:
    name: str                        # the record's ``metric`` field
    task: str
    title: str                       # column title in the tables
    higher_is_better: bool
    computed_by: Callable[..., object]  # the function the value comes from
    how: str = "{fn}"                # how it is printed: {fn} (module.name), {module}, {qualname}; the options
    tables: tuple[str, ...] = ()     # which of the paper's tables show it
    tolerance: Tolerance | None = None  # None: recorded for reference, not checked by bench check
    column: str | None = None        # shown in another metric's column (with ``mark``); None: its own
    mark: str = ""
    fraction: bool = False           # printed as .xxx (ACC, NMI) rather than xx.x
    reported_as: tuple[str, ...] = ()  # how papers' tables name it (baselines.reported's ``metric``)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"metric {self.name}: unknown task {self.task!r}")
        if not set(self.tables) <= set(TABLES):
            raise ValueError(f"metric {self.name}: unknown tables {self.tables}")

    @property
    def computed_by_text(self) -> str:
        """``how`` with the function's names filled in (what ``bench metrics`` prints)."""
        module, qualname = self.computed_by.__module__, self.computed_by.__qualname__
        return self.how.format(fn=f"{module}.{qualname}", module=module, qualname=qualname)

    @property
    def shown_in(self) -> str:
        """The table column this metric fills (its own name unless it stands in for another)."""
        return self.column or self.name


_GEN, _SEG, _CLU = "generation", "segmentation", "clustering"
_REL, _ABS = Tolerance("rel", 0.25), Tolerance("abs", 0.05)
_GEN_SCORES = "benchmark.generation_scores.generation_scores"  # the pipeline (it imports this module)
_CFID, _CIS = getattr(conditional, TABLE1_CFID), getattr(conditional, TABLE1_CIS)

_DECLARATIONS = (
    # Table 1: generation (features and probabilities from the evaluator classifier).
    Metric("fid", _GEN, "FID", False, fid, f"{_GEN_SCORES}: {{module}} on evaluator features",
           ("1", "3"), _REL, reported_as=("FID",)),
    Metric("is", _GEN, "IS", True, inception_score, f"{{module}}, splits={IS_SPLITS} "
           f"(mean over splits; >= {IS_MIN_IMAGES} images)", ("1",), _REL, reported_as=("IS",)),
    Metric("is_1split", _GEN, "IS", True, inception_score, f"{{module}}, splits=1 "
           f"(fewer than {IS_MIN_IMAGES} images)", ("1",), _REL, column="is", mark=ONE_SPLIT_MARK),
    Metric("is_std", _GEN, "IS std", True, inception_score, f"{{module}}, std over {IS_SPLITS} splits"),
    Metric("cfid", _GEN, "CFID", False, _CFID, "Table 1's CFID = {qualname} ({module})",
           ("1",), _REL, reported_as=("CFID",)),
    Metric("cis", _GEN, "CIS", True, _CIS, "Table 1's CIS = {qualname} ({module})",
           ("1", "3"), _REL, reported_as=("CIS", "C-IS")),
    Metric("bcfid", _GEN, "BCFID", False, conditional.bcfid),
    Metric("wcfid", _GEN, "WCFID", False, conditional.wcfid),
    Metric("bcis", _GEN, "BCIS", True, conditional.bcis),
    Metric("wcis", _GEN, "WCIS", False, conditional.wcis, "{fn} (lower: less spread in a class)"),
    Metric("diversity", _GEN, "Div", True, diversity_ratio, "{fn}", ("1",), Tolerance("abs", 0.15)),
    Metric("fid_inception", _GEN, "FID (Inception)", False, fid,
           f"{_GEN_SCORES} on the standard FID InceptionV3 features (--inception-weights)"),
    Metric("cfid_inception", _GEN, "CFID (Inception)", False, _CFID,
           f"{_GEN_SCORES}: Table 1's CFID on the standard FID InceptionV3 features (--inception-weights)"),
    # Table 2: segmentation (percent) under the run's protocol.
    Metric("iou", _SEG, "IOU", True, Protocol.score_masks, "{qualname} (onegan2020: per-image mean)", ("2", "3"),
           Tolerance("abs", 5.0), reported_as=("IOU",)),
    Metric("dice", _SEG, "DICE", True, Protocol.score_masks, "{qualname} (onegan2020: per-image mean)", ("2",),
           Tolerance("abs", 5.0), reported_as=("DICE",)),
    Metric("iou_pooled", _SEG, "IOU (pooled)", True, iou, "{module}, pooled over images"),
    Metric("dice_pooled", _SEG, "DICE (pooled)", True, dice, "{module}, pooled over images"),
    Metric("iou_swap_invariant", _SEG, "IOU (fg/bg swap-invariant)", True, iou,
           "{module}, max of the mask and its complement"),
    Metric("iou_oracle", _SEG, "IOU§", True, oracle_label_masks, "{module} on Method.segment_labels, per-image mean",
           ("2",), Tolerance("abs", 5.0), column="iou", mark=ORACLE_MARK),
    Metric("dice_oracle", _SEG, "DICE§", True, oracle_label_masks,
           "{module} on Method.segment_labels, per-image mean", ("2",), Tolerance("abs", 5.0), column="dice",
           mark=ORACLE_MARK),
    # Table 2: clustering (fractions) under the run's protocol.
    Metric("acc", _CLU, "ACC", True, Protocol.score_clusters, "{qualname} (onegan2020: one-to-one Hungarian)",
           ("2",), _ABS, fraction=True, reported_as=("ACC",)),
    Metric("nmi", _CLU, "NMI", True, Protocol.score_clusters, "{qualname} (onegan2020: arithmetic normalisation)",
           ("2",), _ABS, fraction=True, reported_as=("NMI",)),
    Metric("nmi_max", _CLU, "NMI (max)", True, nmi, "{fn}, normalization='max'", fraction=True),
    Metric("parent_acc", _CLU, "parent ACC", True, Protocol.score_clusters, "{qualname} on the parent codes",
           fraction=True),
    Metric("parent_nmi", _CLU, "parent NMI", True, Protocol.score_clusters, "{qualname} on the parent codes",
           fraction=True),
)


def _index(declarations: tuple[Metric, ...]) -> dict[str, Metric]:
    index: dict[str, Metric] = {}
    for m in declarations:
        if m.name in index:
            raise ValueError(f"metric {m.name!r} is declared twice")
        index[m.name] = m
    for m in declarations:
        if m.column is not None and (m.column not in index or index[m.column].task != m.task):
            raise ValueError(f"metric {m.name!r} stands in for {m.column!r}, which is not a {m.task} metric")
    return index


METRICS: dict[str, Metric] = _index(_DECLARATIONS)


def get(name: str) -> Metric:
    """The declaration of ``name``; an unknown name is a one-line error naming the known ones."""
    if name not in METRICS:
        raise UnknownMetricError(f"unknown metric {name!r}: declare it in benchmark/metric_registry.py "
                                 f"(known: {', '.join(METRICS)})")
    return METRICS[name]


def is_declared(name: str) -> bool:
    return name in METRICS


def task_metrics(task: str) -> tuple[str, ...]:
    """The headline metrics of ``task``: the columns its tables show (what makes a cell complete)."""
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    return tuple(m.name for m in _DECLARATIONS if m.task == task and m.tables and m.column is None)


def shown_metrics(task: str) -> tuple[str, ...]:
    """Every metric of ``task`` that some table shows (headline metrics and their stand-ins)."""
    return tuple(m.name for m in _DECLARATIONS if m.task == task and m.tables)


def table_columns(table: str) -> tuple[str, ...]:
    """The metric columns of the paper's table ``table`` ("1", "2", "3"), in declaration order (the paper's)."""
    if table not in TABLES:
        raise UserError(f"unknown table {table!r}; choose from {', '.join(TABLES)}")
    return tuple(m.name for m in _DECLARATIONS if table in m.tables and m.column is None)


def stand_ins(column: str) -> tuple[Metric, ...]:
    """Metrics shown in ``column`` with a mark (e.g. ``is_1split`` in the IS column)."""
    return tuple(m for m in _DECLARATIONS if m.column == column)


def checked_metrics() -> frozenset[str]:
    """The metrics ``bench check`` compares (those with a tolerance)."""
    return frozenset(m.name for m in _DECLARATIONS if m.tolerance is not None)


def from_reported(title: str) -> str:
    """The metric a papers' table column title names (``"C-IS"`` → ``"cis"``)."""
    for m in _DECLARATIONS:
        if title in m.reported_as:
            return m.name
    raise UnknownMetricError(f"reported metric {title!r} names no declared metric (known: "
                             f"{', '.join(t for m in _DECLARATIONS for t in m.reported_as)})")


def inception_score_metric(count: int) -> Metric:
    """Which IS a set of ``count`` images gets: ``is`` (10 splits) or ``is_1split``."""
    return METRICS["is"] if count >= IS_MIN_IMAGES else METRICS["is_1split"]


def splits_of(metric: Metric) -> int:
    return IS_SPLITS if metric.name == "is" else 1


def record_metric(record: dict) -> str:
    """The metric a record holds. Records written before ``is_1split`` existed called a one-split IS
    "is": those whose options say fewer than ``IS_MIN_IMAGES`` images were scored read as
    ``is_1split`` (records without the count keep their name)."""
    name = record["metric"]
    if name == "is":
        options = record.get("options") or {}
        # the images the IS was computed on: the fakes, or for the Dataset row the real images
        count = options.get("n_real") if record.get("method") == "dataset" else options.get("n_fake")
        if count is not None and int(count) < IS_MIN_IMAGES:
            return "is_1split"
    return name


def describe() -> list[list[str]]:
    """Rows (name, task, title, direction, tables, tolerance, computed by) for ``bench metrics``."""
    rows = []
    for m in _DECLARATIONS:
        tol = "-" if m.tolerance is None else f"{m.tolerance.kind} {m.tolerance.amount:g}"
        tables = ",".join(m.tables) + (f" (in {m.column}, mark {m.mark})" if m.column else "")
        rows.append([m.name, m.task, m.title, "↑" if m.higher_is_better else "↓", tables or "-", tol,
                     m.computed_by_text])
    return rows


@dataclass(frozen=True)
class MetricsOptions:
    """What ``bench metrics`` (and ``list_metrics``) takes: nothing."""


def list_metrics() -> str:
    """The API behind ``bench metrics``: print (and return) every declared metric as a table: its task,
    column and direction, the tables that show it, its ``bench check`` tolerance and how it is computed."""
    from tabulate import tabulate  # only the listing needs it

    headers = ["metric", "task", "column", "dir", "tables", "check tolerance", "computed by"]
    text = tabulate(describe(), headers=headers) + "\n"
    print(text, end="")
    return text
