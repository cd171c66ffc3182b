"""One declaration per metric: what tasks, tables, check and the reported rows name is declared exactly
once; unknown names are one clear error; the one-split IS keeps its own name in records and tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from baselines.reported import later_sota_records, reported_records
from benchmark import metric_registry
from benchmark.check import SCORED_METRICS, TOLERANCES, compare
from benchmark.metric_registry import Metric, UnknownMetricError
from benchmark.records import TASK_METRICS, RecordStore, make_records
from benchmark.table import TABLE_METRICS, build_tables, render
from core.atomic import read_jsonl
from core.errors import UserError

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference"


def test_every_named_metric_has_exactly_one_declaration():
    declared = [m.name for m in metric_registry._DECLARATIONS]
    assert len(declared) == len(set(declared))
    named = {m for ms in TASK_METRICS.values() for m in ms} | {m for ms in TABLE_METRICS.values() for m in ms}
    named |= set(SCORED_METRICS) | set(TOLERANCES)
    named |= {metric_registry.from_reported(r["metric"]) for r in reported_records() + later_sota_records()}
    for path in REFERENCE.glob("*.jsonl"):  # every metric the reference records hold (old names included)
        named |= {metric_registry.record_metric(r) for r in read_jsonl(path)}
    assert named <= set(declared)
    for name in named:
        assert metric_registry.get(name).name == name
    # headline metrics belong to the task they are listed under, and each table column is one of them
    assert all(metric_registry.get(m).task == t for t, ms in TASK_METRICS.items() for m in ms)
    assert TABLE_METRICS == {"1": ("fid", "is", "cfid", "cis", "diversity"), "2": ("iou", "dice", "acc", "nmi"),
                             "3": ("fid", "cis", "iou")}


def test_a_second_declaration_of_a_name_is_refused():
    fid = metric_registry.get("fid")
    with pytest.raises(ValueError, match="declared twice"):
        metric_registry._index((fid, fid))
    stray = Metric("x_1split", "generation", "X", True, len, "nothing", ("1",), column="nope")
    with pytest.raises(ValueError, match="stands in for 'nope'"):
        metric_registry._index((fid, stray))


def test_unknown_metric_is_one_clear_error():
    with pytest.raises(UnknownMetricError, match="unknown metric 'nope'.*metric_registry"):
        metric_registry.get("nope")
    assert issubclass(UnknownMetricError, UserError)  # the CLI prints it as one line
    reference = [{"method": "m", "variant": None, "dataset": "d", "metric": "nope", "value": 1.0, "seed": 0}]
    with pytest.raises(UnknownMetricError, match="'nope'"):
        compare(reference, reference)
    with pytest.raises(UnknownMetricError, match="'nope'"):
        make_records(method="m", variant=None, dataset="d", dataset_fingerprint="f", task="segmentation",
                     values={"iou": 1.0, "nope": 2.0}, seed=0, preset="smoke", config=None, checkpoint=None,
                     wall_time_s=0.0)
    with pytest.raises(UnknownMetricError, match="'F1'"):
        metric_registry.from_reported("F1")


def test_tolerances_and_directions_come_from_the_declarations():
    assert metric_registry.get("iou").tolerance.allowed(50.0) == 5.0
    assert metric_registry.get("fid").tolerance.allowed(80.0) == pytest.approx(20.0)
    assert not metric_registry.get("fid").higher_is_better and metric_registry.get("acc").higher_is_better
    # recorded-only metrics are not compared by bench check
    assert "bcfid" not in SCORED_METRICS and "is_1split" in SCORED_METRICS
    rows, ok = compare([_rec("bcfid", 1.0)], [_rec("bcfid", 100.0)])
    assert ok and rows == []


def test_choice_of_inception_score_by_image_count():
    assert metric_registry.inception_score_metric(99).name == "is_1split"
    assert metric_registry.inception_score_metric(100).name == "is"
    assert metric_registry.splits_of(metric_registry.get("is")) == 10
    assert metric_registry.splits_of(metric_registry.get("is_1split")) == 1


def _rec(metric, value, method="onegan", seed=0, options=None):
    return {"method": method, "variant": None, "dataset": "synthetic", "metric": metric, "value": value,
            "seed": seed, "task": "generation", "source": "measured", "dataset_fingerprint": "f",
            "options": options or {}}


def test_old_one_split_is_records_read_as_is_1split():
    assert metric_registry.record_metric(_rec("is", 2.0, options={"n_fake": 80, "n_real": 500})) == "is_1split"
    assert metric_registry.record_metric(_rec("is", 2.0, options={"n_fake": 120, "n_real": 50})) == "is"
    assert metric_registry.record_metric(_rec("is", 2.0, "dataset", options={"n_real": 60})) == "is_1split"
    assert metric_registry.record_metric(_rec("is", 2.0)) == "is"        # no count recorded: name kept
    # bench check compares the old record with a new is_1split one, not with a 10-split IS
    old, new = _rec("is", 2.0, options={"n_fake": 80}), _rec("is_1split", 1.9)
    rows, ok = compare([old], [new])
    assert ok and rows[0][3] == "is_1split" and rows[0][7] == "ok"
    rows, ok = compare([old], [_rec("is", 2.0, options={"n_fake": 120})])
    assert not ok and rows[0][7] == "MISSING"


def test_tables_show_one_split_is_only_marked_and_never_ranked_with_is():
    records = [_rec("is", 3.0), _rec("is_1split", 9.0, "finegan"), _rec("fid", 10.0)]
    text = render(build_tables(records, ["1"], reported="none"), "markdown")
    assert "**3.0**" in text and "9.0¹" in text and "**9.0" not in text
    assert metric_registry.ONE_SPLIT_NOTE in text
    latex = render(build_tables(records, ["1"], reported="none"), "latex")
    assert r"9.0$^1$" in latex and r"is\_1split" in latex
    # a column holding only one-split values ranks them among themselves; no note without the mark
    alone = render(build_tables([_rec("is_1split", 9.0), _rec("is_1split", 4.0, "finegan")], ["1"],
                                reported="none"), "markdown")
    assert "**9.0**¹" in alone
    plain = render(build_tables([_rec("is", 3.0)], ["1"], reported="none"), "markdown")
    assert "¹" not in plain


def test_a_cell_with_the_one_split_is_counts_as_done(tmp_path):
    store = RecordStore(tmp_path)
    cell = {"method": "onegan", "variant": None, "dataset_fingerprint": "f", "task": "generation", "seed": 0,
            "preset": "smoke"}
    values = {"fid": 1.0, "is_1split": 1.5, "cfid": 2.0, "cis": 1.2, "diversity": 0.5}
    common = dict(method="onegan", variant=None, dataset="synthetic", dataset_fingerprint="f", task="generation",
                  seed=0, preset="smoke", config=None, checkpoint=None, wall_time_s=0.0)
    store.append(make_records(values={k: v for k, v in values.items() if k != "is_1split"}, **common))
    assert not store.is_done(cell)
    store.append(make_records(values=values, **common))
    assert store.is_done(cell)


def test_bench_metrics_lists_every_declaration(capsys):
    from benchmark.cli import main as bench

    assert bench(["metrics"]) == 0
    out = capsys.readouterr().out
    for name in metric_registry.METRICS:
        assert f"\n{name} " in out
    assert "is_1split" in out and "benchmark.metrics.inception_score, splits=1" in out


def test_method_tasks_follow_from_the_class_capabilities():
    """A method's capabilities are declared once, in its class; the registry's tasks derive from them."""
    import importlib

    from benchmark.methods import METHODS
    from benchmark.tasks import TASK_CAPABILITY
    from core.contract import Method

    for entry in METHODS.values():
        module, _, name = entry.method_class.partition(":")
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, Method)
        assert set(entry.tasks) == {t for t, capability in TASK_CAPABILITY.items() if capability in cls.tasks}
    # what the table of methods said before the capabilities moved to the classes
    assert METHODS["stackgan"].tasks == ("generation", "clustering")
    assert METHODS["onegan"].tasks == ("generation", "segmentation", "clustering")
    assert METHODS["redo"].tasks == ("segmentation",) and METHODS["kmeans-features"].tasks == ("clustering",)


def test_computed_by_is_the_function_itself_found_at_its_printed_name():
    import importlib

    from benchmark.metrics.conditional import bcfid
    from benchmark.protocols.base import Protocol

    for m in metric_registry._DECLARATIONS:
        target = importlib.import_module(m.computed_by.__module__)
        for part in m.computed_by.__qualname__.split("."):
            target = getattr(target, part)
        assert target is m.computed_by and callable(target), m.name
    assert metric_registry.get("bcfid").computed_by is bcfid
    assert metric_registry.get("bcfid").computed_by_text == "benchmark.metrics.conditional.bcfid"
    assert metric_registry.get("iou").computed_by is Protocol.score_masks
    assert metric_registry.get("iou").computed_by_text == "Protocol.score_masks (onegan2020: per-image mean)"
    assert metric_registry.get("cfid").computed_by_text == "Table 1's CFID = wcfid (benchmark.metrics.conditional)"
