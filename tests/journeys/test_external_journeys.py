"""Journey: score your own method. Write predictions as files -> `bench run` -> `bench table` shows
your method under its own name, beside the built-ins, with every file checked and changed files
scored again (docs/external-methods.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from journey_helpers import (
    all_ids,
    one_line_error,
    run_bench,
    scored_ids,
    synthetic,
    write_clusters,
    write_masks,
)
from PIL import Image

from benchmark.methods import parse_methods, title_of
from core.atomic import read_jsonl
from core.errors import UserError
from data_prep.prepared import load_prepared


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A synthetic world of 240 object images: more than smoke's 200, so smoke scores a subset."""
    return synthetic(tmp_path_factory.mktemp("data") / "syn", images=300, size=16)


def _common(world, tmp_path):
    return ["--dataset", world, "--preset", "smoke", "--out", tmp_path / "out", "--work", tmp_path / "work"]


def test_your_method_beside_a_builtin_under_its_own_name(world, tmp_path, capsys):
    prepared = load_prepared(world)
    masks = write_masks(prepared, tmp_path / "my predictions" / "masks")
    clusters = write_clusters(prepared, tmp_path / "my predictions" / "clusters.csv")
    methods = f"centred-box,external:name=Mine_v2,masks={masks},clusters={clusters},kmeans-colour"
    status, out, err = run_bench(capsys, "run", "--task", "all", "--methods", methods, *_common(world, tmp_path))
    assert status == 0, err
    # Each method is scored on what it can do; the rest is said, not attempted.
    assert "skipped: Mine_v2 cannot generate images (its spec gives no images=DIR)" in out
    assert "skipped: centred box cannot cluster images" in out
    assert not (tmp_path / "work" / "evaluators").exists()  # nobody generates: no evaluator trained
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    mine = {(r["task"], r["metric"]): r for r in records if r["method"] == "external:Mine_v2"}
    assert {t for t, _ in mine} == {"segmentation", "clustering"}
    # the ground truth scores exactly 100 / 1 on the subset smoke scores (200 of 240)
    assert mine[("segmentation", "iou")]["value"] == pytest.approx(100.0)
    assert mine[("clustering", "acc")]["value"] == pytest.approx(1.0)
    assert mine[("segmentation", "iou")]["options"]["images"] == 200
    assert mine[("segmentation", "iou")]["options"]["images_total"] == 240
    assert all(len(r["predictions_fingerprint"]) == 16 for r in mine.values())
    assert {r["config"]["external_spec"] for r in mine.values()} == {methods.split(",", 1)[1].rsplit(",", 1)[0]}
    # Figures carry the name too.
    assert (tmp_path / "out" / "figures" / "external-Mine_v2_segmentation.png").is_file()

    for fmt in ("markdown", "latex"):
        status, text, err = run_bench(capsys, "table", "--results", tmp_path / "out", "--format", fmt,
                                      "--tables", "2", "--reported", "none")
        assert status == 0, err
        assert str(masks) not in text and "external:" not in text and "masks=" not in text
        assert ("Mine\\_v2" if fmt == "latex" else "Mine_v2") in text
        assert "centred box" in text and "k-means (colours)" in text
        # the numbers are on a subset, and the table says so
        assert "200 of 240" in text
    markdown = run_bench(capsys, "table", "--results", tmp_path / "out", "--tables", "2", "--reported", "none")[1]
    row = next(line for line in markdown.splitlines() if line.startswith("| Mine_v2"))
    assert "**100.0**ˢ" in row


def test_changed_prediction_files_are_scored_again(world, tmp_path, capsys):
    prepared = load_prepared(world)
    masks = write_masks(prepared, tmp_path / "masks")
    spec = f"external:name=Mine,masks={masks}"
    args = ["run", "--task", "segmentation", "--methods", spec, "--no-figures", *_common(world, tmp_path)]
    assert run_bench(capsys, *args)[0] == 0
    _, out, _ = run_bench(capsys, *args)
    assert "seed 0: segmentation already recorded" in out
    # The other program is run again and writes empty masks: the next bench run must score them.
    for path in masks.glob("*.png"):
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(path)
    status, out, err = run_bench(capsys, *args)
    assert status == 0 and "already recorded" not in out, out + err
    ious = [r["value"] for r in read_jsonl(tmp_path / "out" / "records.jsonl") if r["metric"] == "iou"]
    assert ious == [pytest.approx(100.0), pytest.approx(0.0)]
    text = run_bench(capsys, "table", "--results", tmp_path / "out", "--tables", "2", "--reported", "none")[1]
    assert "| Mine " in text and "**0.0**ˢ" in text and "100.0" not in text  # the latest files' numbers


def _outside_subset(prepared, task: str) -> str:
    return sorted(all_ids(prepared, task) - scored_ids(prepared, task))[0]


def test_every_file_is_checked_not_only_the_scored_subset(world, tmp_path, capsys):
    prepared = load_prepared(world)
    unscored = _outside_subset(prepared, "segmentation")
    masks = write_masks(prepared, tmp_path / "masks", ids=all_ids(prepared, "segmentation") - {unscored})
    args = ["run", "--task", "segmentation", "--methods", f"external:name=Mine,masks={masks}", "--no-figures",
            *_common(world, tmp_path)]
    status, _, err = run_bench(capsys, *args)
    assert status == 2 and f"{unscored}.png" in one_line_error(err) and "no mask for 1 of 240" in err
    assert not (tmp_path / "out" / "records.jsonl").exists()  # nothing half-written

    # A malformed file outside the subset: the wrong size, then not an image at all.
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(masks / f"{unscored}.png")
    status, _, err = run_bench(capsys, *args)
    assert status == 2 and f"{unscored}.png: mask is 7x5" in one_line_error(err)
    (masks / f"{unscored}.png").write_text("not a PNG")
    status, _, err = run_bench(capsys, *args)
    assert status == 2 and f"{unscored}.png: not a readable image" in one_line_error(err)
    assert not (tmp_path / "out" / "records.jsonl").exists()

    # A clusters file without a row for an image outside the subset.
    unclustered = _outside_subset(prepared, "clustering")
    clusters = tmp_path / "clusters.csv"
    lines = write_clusters(prepared, clusters).read_text().splitlines()
    clusters.write_text("\n".join(line for line in lines if not line.startswith(unclustered + ",")) + "\n")
    status, _, err = run_bench(capsys, "run", "--task", "clustering", "--methods",
                               f"external:name=Mine,clusters={clusters}", "--no-figures", *_common(world, tmp_path))
    assert status == 2 and f"image id {unclustered!r}" in one_line_error(err) and "clusters.csv" in err


def test_a_non_image_png_among_the_scored_masks_is_one_line(world, tmp_path, capsys):
    prepared = load_prepared(world)
    masks = write_masks(prepared, tmp_path / "masks")
    scored = sorted(scored_ids(prepared, "segmentation"))[0]
    (masks / f"{scored}.png").write_bytes(b"<html>an error page saved as a mask</html>")
    status, _, err = run_bench(capsys, "run", "--task", "segmentation", "--methods",
                               f"external:name=Mine,masks={masks}", "--no-figures", *_common(world, tmp_path))
    assert status == 2
    line = one_line_error(err)
    assert str(masks / f"{scored}.png") in line and "not a readable image" in line


def test_a_masks_only_method_under_clustering_is_skipped(world, tmp_path, capsys):
    masks = write_masks(load_prepared(world), tmp_path / "masks")
    status, out, err = run_bench(capsys, "run", "--task", "clustering", "--methods",
                                 f"external:name=Mine,masks={masks}", "--no-figures", *_common(world, tmp_path))
    assert status == 0, err
    assert "skipped: Mine cannot cluster images (its spec gives no clusters=FILE)" in out
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    assert not [r for r in records if r["method"].startswith("external")]


def test_task_all_with_an_external_method_does_what_its_files_provide(world, tmp_path, capsys):
    masks = write_masks(load_prepared(world), tmp_path / "masks")
    status, out, err = run_bench(capsys, "run", "--task", "all", "--methods", f"external:name=Mine,masks={masks}",
                                 "--no-figures", *_common(world, tmp_path))
    assert status == 0 and "Traceback" not in err, err
    assert "skipped: Mine cannot generate images" in out and "skipped: Mine cannot cluster images" in out
    assert not (tmp_path / "work" / "evaluators").exists()  # no evaluator trained for nothing
    assert not (tmp_path / "work" / "checkpoints").exists()  # no ablation variant trained unasked
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    assert {(r["method"], r["task"]) for r in records} == {("external:Mine", "segmentation")}


def test_methods_parse_keeps_an_external_spec_together() -> None:
    from benchmark.methods import record_name

    spec = "external:name=Mine,masks=/p/m,clusters=/p/c.csv"
    assert parse_methods(f"centred-box,{spec},kmeans-colour") == ["centred-box", spec, "kmeans-colour"]
    assert parse_methods(f" {spec} , onegan") == [spec, "onegan"]
    two = "external:name=A,masks=/a,external:name=B,clusters=/b.csv"
    assert parse_methods(two) == ["external:name=A,masks=/a", "external:name=B,clusters=/b.csv"]
    assert parse_methods("onegan,onegan") == ["onegan"]
    assert record_name(spec) == "external:Mine" and title_of(spec) == title_of("external:Mine") == "Mine"
    cases = {"centred-box,masks=/m": "'masks=/m' belongs to an external method",
             "centred-box,nope": "unknown method 'nope'",
             "external:name=A,masks=/a,external:name=A,clusters=/c": "two external methods are named 'A'",
             "external:masks=/a": "name=... is required",
             "external:name=A,colour=/a": "unknown key 'colour'"}
    for text, message in cases.items():
        with pytest.raises(UserError, match=message):
            parse_methods(text)


def test_records_written_before_names_were_kept_show_the_name(tmp_path, capsys) -> None:
    """A record whose method is the whole spec (as old bench runs wrote) still shows only ``name=``."""
    record = {"method": "external:name=Old,masks=/abs/masks", "variant": None, "dataset": "synthetic",
              "dataset_fingerprint": "x", "task": "segmentation", "metric": "iou", "value": 50.0, "seed": 0,
              "preset": "smoke", "protocol": "onegan2020@v1", "source": "measured"}
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    status, text, _ = run_bench(capsys, "table", "--results", tmp_path, "--tables", "2", "--reported", "none")
    assert status == 0 and "| Old " in text and "/abs/masks" not in text


def test_a_name_with_latex_specials_compiles(tmp_path, capsys) -> None:
    """The user's name= is plain text in LaTeX: specials escaped, and the document compiles."""
    import shutil
    import subprocess

    name = r"Mine#2 & co_v$^~{x}\%"
    record = {"method": f"external:{name}", "variant": None, "dataset": "synthetic", "dataset_fingerprint": "x",
              "task": "segmentation", "metric": "iou", "value": 50.0, "seed": 0, "preset": "smoke",
              "protocol": "onegan2020@v1", "source": "measured", "options": {"images": 200, "images_total": 240}}
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    status, text, _ = run_bench(capsys, "table", "--results", tmp_path, "--tables", "2", "--reported", "none",
                                "--format", "latex")
    assert status == 0
    assert r"Mine\#2 \& co\_v\$\textasciicircum{}\textasciitilde{}\{x\}\textbackslash{}\%" in text
    assert r"$^{s}$" in text and "200 of 240" in text
    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex to compile the table")
    (tmp_path / "t.tex").write_text(text)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, errors="replace", timeout=120)
    assert done.returncode == 0, (tmp_path / "t.log").read_text(errors="replace")[-2000:]
