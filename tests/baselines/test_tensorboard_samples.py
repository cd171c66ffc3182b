"""The baselines' TensorBoard image grids (``SampleSheets`` drawn by the shared loops), read back from the
event files with tensorboard's EventAccumulator: the tags, steps and grid shapes of a GAN baseline
(FineGAN∗, two-phase loop), a segmentation baseline (ReDO, single loop; the GT masks in their row) and
a clustering baseline (IIC; the rows of clusters against a hand-made grouping); and the essential
property: a run that draws images trains the weights a run without them trains, bit for bit (the loss
logs and every RNG state too). The OneGAN and scalar tests are ``tests/onegan/test_tensorboard.py``."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from baselines import finegan, iic, redo
from baselines.object_tensors import load_object_tensors
from baselines.sample_sheets import CLUSTER_ROWS, SAMPLE_IMAGES, cluster_rows, fixed_images
from core.atomic import read_jsonl
from core.contract import TrainRequest
from core.tensorboard_log import EVENTS_DIR, untouched_training_state
from data_prep.prepared import load_prepared

PAD = 1  # image_rows' padding: a grid of r rows of c images of side s is (c(s+1)+1) x (r(s+1)+1)


def _grid_size(columns: int, rows: int, side: int) -> tuple[int, int]:
    return columns * (side + PAD) + PAD, rows * (side + PAD) + PAD


def _images(directory: Path) -> EventAccumulator:
    events = EventAccumulator(str(directory), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def _finegan_config(sample_every: int) -> finegan.FineGANConfig:
    return dataclasses.replace(finegan.PRESETS["smoke"], sample_every=sample_every)


def test_finegan_writes_samples_per_code_and_its_parts(tiny_prepared, tmp_path):
    config = _finegan_config(3)
    finegan.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=0, device="cpu"), config=config)
    events = _images(tmp_path / EVENTS_DIR / "finegan")
    assert set(events.Tags()["images"]) == {"samples/generation", "samples/parts"}
    side = config.image_size
    generation, parts = events.Images("samples/generation"), events.Images("samples/parts")
    assert [e.step for e in generation] == [3, 6] and [e.step for e in parts] == [3, 6]  # every 3 of 6
    assert {(e.width, e.height) for e in generation} == {_grid_size(SAMPLE_IMAGES, 4, side)}   # 4 codes
    assert {(e.width, e.height) for e in parts} == {_grid_size(SAMPLE_IMAGES, 6, side)}        # C B P_f P_m C_f C_m
    # the same fixed noise at every draw, the generator changed in between: the sheets differ
    assert generation[0].encoded_image_string != generation[1].encoded_image_string
    # the encoder phase draws nothing
    assert _images(tmp_path / EVENTS_DIR / "finegan-encoders").Tags()["images"] == []


def test_redo_writes_fixed_images_masks_and_ground_truth(tiny_prepared, tmp_path):
    config = redo.PRESETS["smoke"]
    redo.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=1))
    sheets = _images(tmp_path / EVENTS_DIR).Images("samples/segmentation")
    every, steps, side = config.sample_every, config.steps, config.image_size
    assert [e.step for e in sheets] == list(range(every, steps + 1, every))
    # rows: image, M_1, image with region 1 redrawn, GT mask (the synthetic data has masks)
    assert {(e.width, e.height) for e in sheets} == {_grid_size(SAMPLE_IMAGES, 4, side)}
    grid = np.asarray(Image.open(io.BytesIO(sheets[-1].encoded_image_string)).convert("RGB")).astype(int)
    images, masks = fixed_images(load_object_tensors(load_prepared(tiny_prepared), side), seed=1)
    assert masks is not None and 0 < float(masks.mean()) < 1
    for column in range(SAMPLE_IMAGES):
        left = PAD + column * (side + PAD)
        top_image = grid[PAD:PAD + side, left:left + side]
        last_row = 3 * (side + PAD) + PAD
        gt = grid[last_row:last_row + side, left:left + side, 0]
        expected_image = (images[column].permute(1, 2, 0).numpy() * 255).astype(int)
        assert np.abs(top_image - expected_image).max() <= 1          # the fixed training image
        assert np.array_equal(gt > 127, masks[column, 0].numpy() > 0.5)  # its ground-truth mask


def test_iic_writes_its_largest_clusters(tiny_prepared, tmp_path):
    config = iic.PRESETS["smoke"]
    iic.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=1))
    sheets = _images(tmp_path / EVENTS_DIR).Images("samples/clusters")
    assert [e.step for e in sheets] == list(range(config.sample_every, config.steps + 1, config.sample_every))
    for sheet in sheets:  # one row per cluster found in the pool, at most CLUSTER_ROWS
        rows = (sheet.height - PAD) // (config.image_size + PAD)
        assert (sheet.width, sheet.height) == _grid_size(SAMPLE_IMAGES, rows, config.image_size)
        assert 1 <= rows <= CLUSTER_ROWS


def test_cluster_rows_are_the_largest_clusters_in_pool_order():
    images = torch.arange(1, 11, dtype=torch.float32).view(10, 1, 1, 1).expand(10, 3, 2, 2) / 10  # image i: value i
    labels = torch.tensor([5, 1, 5, 3, 1, 5, 3, 7, 1, 9])   # sizes: 5 -> 3, 1 -> 3, 3 -> 2, 7 -> 1, 9 -> 1
    rows = cluster_rows(images, labels, rows=4, columns=4)
    values = [[round(float(image.mean()) * 10) for image in row] for row in rows]
    # by size, ties to the smaller label (1 before 5, 7 before 9); members in pool order; 0 = blank
    assert values == [[2, 5, 9, 0], [1, 3, 6, 0], [4, 7, 0, 0], [8, 0, 0, 0]]


def _tensors(value) -> list:
    """Every tensor and number of a checkpoint, in a fixed order (nested dicts/lists flattened)."""
    if isinstance(value, dict):
        return [item for key in sorted(value, key=str) for item in _tensors(value[key])]
    if isinstance(value, (list, tuple)):
        return [item for entry in value for item in _tensors(entry)]
    return [value]


def _assert_bitwise_equal(first: dict, second: dict, keys: list[str]) -> None:
    for key in keys:
        a, b = _tensors(first[key]), _tensors(second[key])
        assert len(a) == len(b), key
        for x, y in zip(a, b, strict=True):
            if torch.is_tensor(x):
                assert x.dtype == y.dtype and torch.equal(x, y), key
            else:
                assert x == y, key


def _losses(path: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in read_jsonl(path)]


def test_finegan_images_on_train_the_weights_images_off_train(tiny_prepared, tmp_path):
    runs = {}
    for every in (1, 0):  # a sheet after every GAN iteration, and none
        out = tmp_path / f"every{every}"
        path = finegan.train(TrainRequest(data=tiny_prepared, out=out, preset="smoke", seed=4, device="cpu"),
                             config=_finegan_config(every))
        runs[every] = (torch.load(path, weights_only=False), out)
    (drawn, drawn_out), (plain, plain_out) = runs[1], runs[0]
    assert len(_images(drawn_out / EVENTS_DIR / "finegan").Images("samples/generation")) == 6
    assert _images(plain_out / EVENTS_DIR / "finegan").Tags()["images"] == []
    _assert_bitwise_equal(drawn, plain, ["generator", "discriminators", "encoders", "opt_g", "opt_d", "opt_e",
                                         "rng", "torch_rng"])
    assert _losses(drawn_out / "losses.jsonl") == _losses(plain_out / "losses.jsonl")


def test_redo_images_on_train_the_weights_images_off_train(tiny_prepared, tmp_path, monkeypatch):
    runs = {}
    for every in (1, 0):
        smoke = dataclasses.replace(redo.PRESETS["smoke"], sample_every=every)
        monkeypatch.setitem(redo.PRESETS, "smoke", smoke)
        out = tmp_path / f"every{every}"
        runs[every] = torch.load(redo.train(TrainRequest(data=tiny_prepared, out=out, preset="smoke", seed=2)),
                                 weights_only=False)
        images = _images(out / EVENTS_DIR).Tags()["images"]
        assert images == (["samples/segmentation"] if every else [])
    _assert_bitwise_equal(runs[1], runs[0], ["model", "optimizer_d", "optimizer_g", "rng", "losses"])


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Dropout(0.5))
        self.frozen = nn.BatchNorm1d(3)


def test_drawing_leaves_modes_rng_and_statistics_as_they_were():
    import random

    net = _Net().train()
    net.frozen.eval()  # a submodule kept in eval inside a training model stays so
    statistics = net.body[1].running_mean.clone()
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    with untouched_training_state([net]):
        assert not any(m.training for m in net.modules())
        net.body(torch.randn(4, 3))       # draws from the global RNG, runs BatchNorm
        random.random()
        np.random.rand()
        assert not torch.is_grad_enabled()
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]
    assert np.array_equal(np.random.get_state()[1], before[2])
    assert net.training and net.body.training and net.body[1].training and not net.frozen.training
    assert torch.equal(net.body[1].running_mean, statistics)   # eval mode: BatchNorm statistics kept


def test_a_failing_draw_still_restores_the_training_state():
    net = _Net().train()
    before = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="boom"), untouched_training_state([net]):
        torch.randn(5)
        raise RuntimeError("boom")
    assert net.training and torch.equal(torch.get_rng_state(), before)
