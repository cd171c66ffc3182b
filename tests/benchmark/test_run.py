"""`bench run` end to end: records with provenance, resuming, --force, seeds, external files, errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from benchmark.cli import main as bench
from benchmark.run import run
from benchmark.table import table
from core.atomic import read_jsonl
from core.errors import UserError
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("data") / "syn", classes=4, parents=2, images=80, size=24, seed=0)


def test_records_resume_force_and_seeds(prepared_dir, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    kwargs = dict(task="segmentation", dataset=str(prepared_dir), methods="centred-box", preset="smoke",
                  out=out, work=work, figures=False)
    run(seeds="0,1", **kwargs)
    records = read_jsonl(out / "records.jsonl")
    assert {(r["metric"], r["seed"]) for r in records} >= {("iou", 0), ("dice", 0), ("iou", 1), ("dice", 1)}
    r = records[0]
    assert r["dataset_fingerprint"] == load_prepared(prepared_dir).fingerprint
    assert r["git_commit"] and r["versions"]["torch"] and r["preset"] == "smoke" and r["source"] == "measured"
    assert 0 < r["value"] < 100 and r["options"]["images"] == 64
    run(seeds="0,1", **kwargs)  # every cell is done: nothing appended
    assert len(read_jsonl(out / "records.jsonl")) == len(records)
    run(seeds="0", force=True, **kwargs)
    assert len(read_jsonl(out / "records.jsonl")) == len(records) + len(records) // 2
    text = table(out, "markdown", "2", reported="none")
    assert "centred box" in text and "± 0.0" in text  # a fixed box scores the same for both seeds


def test_external_predictions_score_exactly(prepared_dir, tmp_path):
    """Files that hold the ground truth must score IOU 100 and ACC 1: checks the whole by-id chain."""
    prepared = load_prepared(prepared_dir)
    masks = tmp_path / "masks"
    masks.mkdir()
    with open(tmp_path / "clusters.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image_id", "cluster"])
        for _, row in prepared.manifest.iterrows():
            writer.writerow([row.image_id, (row.class_id + 1) % 4])  # a relabelling: Hungarian undoes it
            if row["mask"]:
                Image.fromarray(prepared.load_mask(row["mask"]).astype(np.uint8) * 255).save(
                    masks / f"{row.image_id}.png")
    spec = f"external:name=oracle,masks={masks},clusters={tmp_path / 'clusters.csv'}"
    run(task="segmentation", dataset=str(prepared_dir), methods=spec, preset="smoke", out=tmp_path / "o",
        work=tmp_path / "w", figures=False)
    run(task="clustering", dataset=str(prepared_dir), methods=spec, preset="smoke", out=tmp_path / "o",
        work=tmp_path / "w", figures=False)
    values = {r["metric"]: r["value"] for r in read_jsonl(tmp_path / "o" / "records.jsonl")}
    assert values["iou"] == pytest.approx(100.0) and values["dice"] == pytest.approx(100.0)
    assert values["acc"] == pytest.approx(1.0) and values["nmi"] == pytest.approx(1.0)


def test_cli_errors_are_one_line(prepared_dir, tmp_path, capsys):
    assert bench(["run", "--dataset", str(prepared_dir), "--methods", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'nope'" in err and "Traceback" not in err
    assert bench(["run", "--dataset", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    assert bench(["table", "--results", str(tmp_path / "empty")]) == 2
    assert "no records.jsonl" in capsys.readouterr().err
    assert bench(["run", "--dataset", str(prepared_dir), "--inception-weights", str(tmp_path / "w.pth"),
                  "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "weights-inception-2015-12-05-6726825d.pth" in err and "Traceback" not in err


def test_generation_pipeline_with_a_trained_method(prepared_dir, tmp_path):
    """Evaluator training, the Dataset row, OneGAN smoke training, every Table 1 metric (also on the
    standard FID Inception, with weights this test creates), figures."""
    from benchmark.features.inception import save_random_inception_weights

    weights = save_random_inception_weights(tmp_path / "inception.pth")
    out = tmp_path / "out"
    run(task="generation", dataset=str(prepared_dir), methods="onegan", preset="smoke", out=out,
        work=tmp_path / "work", figures=True, inception_weights=weights)
    records = read_jsonl(out / "records.jsonl")
    by_method = {}
    for r in records:
        by_method.setdefault(r["method"], {})[r["metric"]] = r["value"]
    assert set(by_method) == {"dataset", "onegan"}
    assert by_method["dataset"]["fid"] == pytest.approx(0.0, abs=1e-6)
    assert by_method["dataset"]["cfid"] == pytest.approx(0.0, abs=1e-6)
    # Fewer than 100 images (80 fakes; the fg reals): the IS is on one split, under its own name.
    assert all("is" not in m and "is_std" not in m for m in by_method.values())
    assert by_method["dataset"]["is_1split"] >= 1.0 and by_method["dataset"]["cis"] >= 1.0
    assert by_method["onegan"]["fid"] > 0 and np.isfinite(list(by_method["onegan"].values())).all()
    assert by_method["onegan"]["cis"] <= by_method["onegan"]["is_1split"] + 1e-9  # BCIS <= IS (WCIS >= 1)
    onegan = next(r for r in records if r["method"] == "onegan")
    assert onegan["checkpoint"] and onegan["options"]["real_conditions"] == "method clusters"
    assert onegan["options"]["is_splits"] == 1 and onegan["options"]["cfid"] == "wcfid"
    assert by_method["onegan"]["fid_inception"] > 0 and "cfid_inception" in by_method["onegan"]
    assert (out / "figures" / "onegan_generation.png").exists()
    assert (out / "figures" / "onegan_translation.png").exists()


def test_ablation_task_records_every_variant_at_its_scale(prepared_dir, tmp_path):
    from benchmark.grid import scale_label
    from benchmark.presets import get_preset
    from benchmark.run import ABLATION_REFERENCE, ABLATION_VARIANTS, RunContext

    out = tmp_path / "out"
    run(task="ablation", dataset=str(prepared_dir), preset="smoke", out=out, work=tmp_path / "work",
        figures=False)
    records = [r for r in read_jsonl(out / "records.jsonl") if r["method"] == "onegan"]
    assert {r["variant"] for r in records} == {ABLATION_REFERENCE, *ABLATION_VARIANTS}
    assert {r["preset"] for r in records} == {"smoke:smoke@30"}
    assert {(r["variant"], r["metric"]) for r in records} >= {(v, m) for v in ABLATION_VARIANTS
                                                               for m in ("fid", "cis", "iou", "acc")}
    # Another ablation scale is a different cell: not skipped, not resumed from these checkpoints.
    full = RunContext(get_preset("tiny", ablation_preset="tiny"), None, tmp_path, None, "cpu", False)
    small = RunContext(get_preset("tiny", ablation_preset="smoke"), None, tmp_path, None, "cpu", False)
    assert scale_label(full, "no-rm") == "tiny:tiny" != scale_label(small, "no-rm") == "tiny:smoke"
    assert scale_label(full, None) == scale_label(small, None) == "tiny"
    # `--task all` leaves Table 3 out unless asked: tests/journeys/test_task_all_journeys.py


def test_ablations_option_runs_only_the_named_rows(prepared_dir, tmp_path):
    from benchmark.run import ABLATION_REFERENCE, ABLATION_VARIANTS, parse_ablations

    assert parse_ablations(None) == (ABLATION_REFERENCE, *ABLATION_VARIANTS)
    assert parse_ablations("no-rm, reference") == (ABLATION_REFERENCE, "no-rm")  # Table 3's order
    with pytest.raises(UserError, match="unknown ablation 'no-such'"):
        parse_ablations("no-rm,no-such")
    out = tmp_path / "out"
    run(task="ablation", dataset=str(prepared_dir), preset="smoke", out=out, work=tmp_path / "work",
        figures=False, ablations="no-rm,reference")
    records = [r for r in read_jsonl(out / "records.jsonl") if r["method"] == "onegan"]
    assert {r["variant"] for r in records} == {ABLATION_REFERENCE, "no-rm"}
