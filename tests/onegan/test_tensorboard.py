"""TensorBoard event files written by the trainers, read back with tensorboard's EventAccumulator:
every logged loss under its paper name with the value of the JSON loss log, it/s, the phase, and the
sample grids; a resumed run continues the curves without doubling back. The baselines' own grids:
``tests/baselines/test_tensorboard_samples.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from baselines.gan_training import Deadline, run_phase
from core.atomic import read_jsonl
from core.tensorboard_log import EVENTS_DIR, SampleSheets
from onegan.trainer import LOSS_LOG, Trainer


def _events(directory: Path) -> EventAccumulator:
    events = EventAccumulator(str(directory), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def test_onegan_writes_losses_speed_phase_and_samples(prepared, micro_config, tmp_path):
    config = micro_config(6)
    out = tmp_path / "run"
    first = Trainer(config.with_iterations(6), prepared, out, seed=1, progress=False)
    first.run(until=4)  # stop at iteration 4, then resume: the curves must continue, not double back
    resumed = Trainer(config, prepared, out, seed=1, progress=False)
    resumed.resume()
    resumed.run()

    events = _events(out / EVENTS_DIR)
    tags = set(events.Tags()["scalars"])
    logged = read_jsonl(out / LOSS_LOG)
    assert [r["iteration"] for r in logged] == [1, 2, 3, 4, 5, 6]
    loss_names = {k for r in logged for k in r if k not in ("iteration", "phase", "paths", "seconds")}
    assert {"gen/L_D", "gen/L_G", "real/L_REC", "fake/L_REC", "L_total"} <= loss_names
    assert {f"loss/{name}" for name in loss_names} <= tags
    for name in loss_names:
        series = {e.step: e.value for e in events.Scalars(f"loss/{name}")}
        expected = {r["iteration"]: r[name] for r in logged if isinstance(r.get(name), float)}
        assert sorted(series) == sorted(expected), name  # each step once, after the resume too
        for step, value in expected.items():
            assert series[step] == pytest.approx(value, rel=1e-6), (name, step)
    assert {e.step: e.value for e in events.Scalars("phase")} == {r["iteration"]: float(r["phase"]) for r in logged}
    speeds = events.Scalars("speed/it_per_s")
    assert speeds and all(e.value > 0 for e in speeds)
    images = set(events.Tags()["images"])
    assert {"samples/generation", "samples/reconstruction"} <= images
    grid = events.Images("samples/generation")[-1]
    assert grid.step == 6 and grid.width > grid.height > 0  # 8 columns of 4 rows


class _CountingSaver:
    """A ``CheckpointSaver``'s shape (a path and a call) that only counts its calls."""

    def __init__(self, path: Path) -> None:
        self.path, self.calls = path, 0

    def __call__(self) -> None:
        self.calls += 1


def test_baseline_phase_losses_and_samples_read_back(tmp_path):
    losses = lambda i: {"L_D": 1.0 / (i + 1), "L_G": float(i)}  # noqa: E731 - known values to read back
    state = {}
    save = _CountingSaver(tmp_path / "checkpoint.pt")
    drawn = []  # a sheet of known size and grey level, drawn at every 4th iteration and at the last
    sheet = SampleSheets(4, lambda: drawn.append(state["n"]) or {"known": torch.full((3, 5, 7), 0.5)})
    result = run_phase(phase="finegan", done=0, total=6, step=losses, save=save,
                       log_path=tmp_path / "losses.jsonl", log_every=2, checkpoint_every=100,
                       deadline=Deadline(None), on_iteration=lambda n: state.update(n=n), samples=sheet)
    assert result.iterations_done == 6 and save.calls >= 1
    assert drawn == [4, 6]
    events = _events(tmp_path / EVENTS_DIR / "finegan")
    assert [(e.step, e.width, e.height) for e in events.Images("samples/known")] == [(4, 7, 5), (6, 7, 5)]
    assert [(e.step, e.value) for e in events.Scalars("loss/L_D")] == [
        (2, pytest.approx(1 / 2)), (4, pytest.approx(1 / 4)), (6, pytest.approx(1 / 6))]
    assert [(e.step, e.value) for e in events.Scalars("loss/L_G")] == [(2, 1.0), (4, 3.0), (6, 5.0)]
    assert len(events.Scalars("speed/it_per_s")) == 3
