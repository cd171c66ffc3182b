"""What the journey tests share: a small synthetic world, another program's prediction files written
from the ground truth, and ``bench`` run in-process with its output captured."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.cli import main as bench
from benchmark.protocols import PROTOCOLS
from benchmark.protocols.images import protocol_rows
from benchmark.tasks.common import subsample
from data_prep.prepared import Prepared, load_prepared
from data_prep.synthetic import write_synthetic

SMOKE_MAX_IMAGES = 200  # benchmark.presets smoke's max_eval_images


def synthetic(root: Path, images: int = 80, size: int = 16) -> Path:
    return write_synthetic(root, classes=4, parents=2, images=images, size=size, seed=0)


def write_masks(prepared: Prepared, folder: Path, ids: list[str] | None = None) -> Path:
    """The ground-truth mask of every image that has one (or of ``ids``), as ``folder/<id>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    for _, row in prepared.manifest.iterrows():
        if row["mask"] and (ids is None or row["image_id"] in ids):
            mask = prepared.load_mask(row["mask"]).astype(np.uint8) * 255
            Image.fromarray(mask).save(folder / f"{row['image_id']}.png")
    return folder


def write_clusters(prepared: Prepared, path: Path, shift: int = 1) -> Path:
    """Every image's class relabelled by ``(class + shift) % C`` (Hungarian matching undoes it: ACC 1)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image_id", "cluster"])
        for _, row in prepared.manifest.iterrows():
            writer.writerow([row["image_id"], (row["class_id"] + shift) % prepared.num_classes])
    return path


def scored_ids(prepared: Prepared, task: str, seed: int = 0) -> set[str]:
    """The ids ``bench run --preset smoke`` scores for ``task`` (its subsample of the protocol's rows)."""
    rows = protocol_rows(prepared, PROTOCOLS["onegan2020"], task)
    return set(prepared.manifest["image_id"].to_numpy()[subsample(rows, SMOKE_MAX_IMAGES, seed)])


def all_ids(prepared: Prepared, task: str) -> set[str]:
    rows = protocol_rows(prepared, PROTOCOLS["onegan2020"], task)
    return set(prepared.manifest["image_id"].to_numpy()[rows])


def run_bench(capsys, *argv: str) -> tuple[int, str, str]:
    """``bench ARGV`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = bench([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line_error(err: str) -> str:
    """The error line of a failed ``bench`` (asserting it is one line and no traceback)."""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def fixture_layouts():
    """tests/data_prep/conftest.py (the CUB, Dogs and Cars layouts), loaded under its own name."""
    path = Path(__file__).resolve().parents[1] / "data_prep" / "conftest.py"
    spec = importlib.util.spec_from_file_location("data_prep_fixture_layouts", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


__all__ = ["bench", "load_prepared", "synthetic", "write_masks", "write_clusters", "scored_ids", "all_ids",
           "run_bench", "one_line_error", "fixture_layouts"]
