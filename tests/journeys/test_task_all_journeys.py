"""Journey: `bench run --task all` on the CUB, Dogs and Cars layouts (tests/data_prep/conftest.py) and
the synthetic world does what was asked: each method on the tasks it can do, the rest said with a
reason, no segmentation (and no advice that cannot be followed) where the dataset has no masks, and
Table 3's ablation variants only when asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from journey_helpers import fixture_layouts, one_line_error, run_bench, synthetic

from core.atomic import read_jsonl

LAYOUTS = fixture_layouts()
MAKERS = {"cub": LAYOUTS.make_cub, "dogs": LAYOUTS.make_dogs, "cars": LAYOUTS.make_cars}


@pytest.fixture(scope="module")
def prepared_layouts(tmp_path_factory) -> dict[str, Path]:
    """Each fixture layout through `bench prep` as documented (default masks: gt for CUB, none for Dogs
    and Cars), at 32 px."""
    from benchmark.cli import main as bench

    base = tmp_path_factory.mktemp("layouts")
    out = {}
    for name, make in MAKERS.items():
        source = make(base / f"{name}-source")
        out[name] = base / name
        assert bench(["prep", "--dataset", name, "--root", str(source.root), "--out", str(out[name]),
                      "--size", "32", "--workers", "1", "--no-progress"]) == 0
    return out


def _trained_runs(work: Path) -> set[str]:
    """The method run directories under ``work/checkpoints`` (``onegan``, ``onegan-no-rm``, ...)."""
    checkpoints = work / "checkpoints"
    return {p.name for p in checkpoints.glob("*/*/seed*/[!.]*")} if checkpoints.exists() else set()


@pytest.mark.parametrize("layout", ["cub", "dogs", "cars"])
def test_task_all_with_the_floors_on_each_layout(prepared_layouts, layout, tmp_path, capsys):
    out, work = tmp_path / "out", tmp_path / "work"
    status, stdout, err = run_bench(capsys, "run", "--task", "all", "--dataset", prepared_layouts[layout],
                                    "--methods", "centred-box,kmeans-colour", "--preset", "smoke",
                                    "--out", out, "--work", work, "--no-figures")
    assert status == 0 and "Traceback" not in err, err
    assert "skipped: centred box cannot generate images" in stdout
    assert "skipped: k-means (colours) cannot generate images" in stdout
    assert "already recorded" not in stdout
    records = read_jsonl(out / "records.jsonl")
    scored = {(r["method"], r["task"]) for r in records}
    if layout == "cub":  # CUB's own segmentations: both floors scored
        assert scored == {("centred-box", "segmentation"), ("kmeans-colour", "clustering")}
        assert "skipped: k-means (colours) cannot segment images" in stdout
    else:  # Dogs and Cars prepared without pseudo-masks: segmentation skipped up front, with a hint that works
        assert scored == {("kmeans-colour", "clustering")}
        line = next(line for line in stdout.splitlines() if line.startswith("skipped: segmentation"))
        assert "has no masks" in line and "--masks deeplabv3-torchvision" in line and "--masks gt" not in line
    # Nobody generates and no ablation was asked for: no evaluator, no OneGAN variant trained.
    assert not (work / "evaluators").exists()
    assert not [run for run in _trained_runs(work) if run.startswith("onegan")]


def test_segmentation_on_a_dataset_without_masks_is_one_line_before_any_work(prepared_layouts, tmp_path, capsys):
    status, _, err = run_bench(capsys, "run", "--task", "segmentation", "--dataset", prepared_layouts["dogs"],
                               "--methods", "centred-box,onegan", "--preset", "smoke", "--out", tmp_path / "out",
                               "--work", tmp_path / "work", "--no-figures")
    line = one_line_error(err)
    assert status == 2 and str(prepared_layouts["dogs"]) in line and "has no masks" in line
    assert "--masks deeplabv3-torchvision" in line and "--masks gt" not in line
    assert not (tmp_path / "out" / "records.jsonl").exists() and not (tmp_path / "work" / "evaluators").exists()
    assert not _trained_runs(tmp_path / "work")


def test_ablations_only_when_asked(tmp_path, capsys):
    world = synthetic(tmp_path / "syn", images=80, size=16)
    common = ["--dataset", world, "--preset", "smoke", "--out", tmp_path / "out", "--work", tmp_path / "work",
              "--no-figures"]
    status, _, err = run_bench(capsys, "run", "--task", "all", "--methods", "centred-box", *common)
    assert status == 0, err
    assert {r["method"] for r in read_jsonl(tmp_path / "out" / "records.jsonl")} == {"centred-box"}
    assert not _trained_runs(tmp_path / "work")
    # Asked for one Table 3 row: that row is trained and scored on every task, beside the floor.
    status, stdout, err = run_bench(capsys, "run", "--task", "all", "--methods", "centred-box",
                                    "--ablations", "no-rm", *common)
    assert status == 0, err
    assert "centred box seed 0: segmentation already recorded" in stdout
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    assert {(r["method"], r["variant"], r["task"]) for r in records if r["method"] == "onegan"} == {
        ("onegan", "no-rm", "generation"), ("onegan", "no-rm", "segmentation"), ("onegan", "no-rm", "clustering")}
    assert _trained_runs(tmp_path / "work") == {"onegan-no-rm"}
