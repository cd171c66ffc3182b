"""UISB: the oracle finds a flat object exactly, the superpixel refinement against the author's loop,
per-image independence and seeding, the train/load round trip, and bad input."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from baselines import uisb
from baselines.label_maps import border_background_foreground, dominant_border_label
from benchmark.metrics import iou
from benchmark.metrics.oracle import oracle_label_masks
from core.contract import SEGMENT_LABELS, TrainRequest
from core.errors import UserError

# Few superpixels with colour-following SLIC: every superpixel lies inside one flat region. No early
# stop (min_labels 1): the network runs its 50 steps and settles on the superpixels' labels.
FLAT = replace(uisb.PRESETS["tiny"], superpixels=8, compactness=10.0, min_labels=1)


def _flat_scene() -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """A 32 px image of three flat colours: background, the object (a rectangle) and a second patch in a
    corner; the object mask and the patch mask."""
    image = torch.zeros(1, 3, 32, 32)
    image[0] = torch.tensor([0.15, 0.55, 0.25])[:, None, None]
    image[0, :, 9:25, 7:21] = torch.tensor([0.85, 0.15, 0.2])[:, None, None]
    image[0, :, 22:30, 24:30] = torch.tensor([0.1, 0.2, 0.9])[:, None, None]
    obj, patch = np.zeros((32, 32), bool), np.zeros((32, 32), bool)
    obj[9:25, 7:21], patch[22:30, 24:30] = True, True
    return image, obj, patch


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_iou_is_100_on_flat_colour_regions(seed: int) -> None:
    torch.set_num_threads(1)
    image, obj, patch = _flat_scene()
    method = uisb.UISBSegmenter(FLAT, seed=seed, num_classes=1, num_parents=1, device=torch.device("cpu"))
    labels = method.segment_labels(image)
    assert labels.shape == (1, 32, 32) and labels.dtype == torch.int64
    assert 100.0 * iou(oracle_label_masks(labels.numpy(), obj[None]), obj[None]).mean == 100.0
    # The label-free rule: everything but the background's label (the whole border is background) is
    # foreground, the object and, unless UISB merged it with the background, the patch.
    mask = method.segment(image)[0, 0].numpy() > 0.5
    assert np.array_equal(mask, labels[0].numpy() != int(labels[0, 0, 0]))
    assert mask[obj].all() and not mask[~(obj | patch)].any()


def test_the_authors_early_stop_may_cut_a_corner_pixel_at_most() -> None:
    # minLabels 3 stops the run as soon as the argmax holds 3 labels, before a corner pixel (a patch
    # unlike any other) may have followed its superpixel: one pixel of 224 (99.6) at seed 0.
    image, obj, _ = _flat_scene()
    for seed in range(3):
        labels = uisb.optimise_labels(image, replace(FLAT, min_labels=3), seed)
        assert iou(oracle_label_masks(labels.numpy(), obj[None]), obj[None]).mean >= 0.99


def test_superpixel_majority_matches_the_authors_loop() -> None:
    rng = np.random.default_rng(0)
    target = rng.integers(0, 5, size=(3, 40))
    segments = np.sort(rng.integers(0, 6, size=(3, 40)), axis=1) + np.array([[0], [6], [12]])
    refined = uisb.superpixel_majority(torch.from_numpy(target), torch.from_numpy(segments), 5).numpy()
    for row in range(3):
        expected = target[row].copy()
        for segment in np.unique(segments[row]):   # demo.py: np.unique, histogram, argmax
            inside = segments[row] == segment
            values, counts = np.unique(target[row][inside], return_counts=True)
            expected[inside] = values[np.argmax(counts)]
        assert np.array_equal(refined[row], expected)


def test_each_image_is_its_own_run_and_seeded_by_its_pixels() -> None:
    torch.set_num_threads(1)
    config = uisb.PRESETS["smoke"]
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    together = uisb.optimise_labels(images, config, seed=5)
    alone = uisb.optimise_labels(images[1:2], config, seed=5)
    assert torch.equal(together[1:2], alone)
    assert torch.equal(uisb.optimise_labels(images, config, seed=5), together)
    assert uisb.image_seeds(images[:1], 5) != uisb.image_seeds(images[:1], 6)


def test_dominant_border_label_and_rule() -> None:
    labels = torch.zeros(2, 6, 6, dtype=torch.long)
    labels[0, 0, :] = 4                 # image 0: label 0 on 14 ring pixels, label 4 on 6
    labels[1] = 2
    labels[1, 2:4, 2:4] = 7             # image 1: label 2 everywhere but the centre
    assert dominant_border_label(labels, border=1).tolist() == [0, 2]
    mask = border_background_foreground(labels, border=1)
    assert mask.shape == (2, 1, 6, 6) and int(mask[1].sum()) == 4 and int(mask[0].sum()) == 6


def test_train_load_round_trip_and_bad_input(tiny_prepared, tmp_path) -> None:
    torch.set_num_threads(1)
    request = TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=3)
    checkpoint = uisb.train(request)
    payload = torch.load(checkpoint, weights_only=True)
    assert payload["complete"] and payload["config"] == asdict(uisb.PRESETS["smoke"]) and payload["seed"] == 3
    assert uisb.train(request) == checkpoint                      # resuming a finished run returns it
    method = uisb.load(checkpoint)
    assert method.can("segment") and method.can(SEGMENT_LABELS) and not method.can("cluster")
    images = torch.rand(5, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    masks = method.segment(images)
    assert masks.shape == (5, 1, 24, 24) and set(masks.unique().tolist()) <= {0.0, 1.0}
    labels = method.segment_labels(images)
    assert labels.shape == (5, 24, 24) and int(labels.min()) >= 0 and int(labels.max()) < 8
    assert torch.equal(uisb.load(checkpoint).segment_labels(images), labels)   # reproducible
    with torch.inference_mode():                                               # as the benchmark calls it
        assert torch.equal(uisb.load(checkpoint).segment_labels(images), labels)
    with pytest.raises(UserError, match=r"\(N, 3, H, W\)"):
        method.segment(torch.rand(2, 24, 24))
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        method.segment(images * 255)
    with pytest.raises(UserError, match="unknown preset"):
        uisb.train(TrainRequest(data=tiny_prepared, out=tmp_path / "x", preset="huge"))
    assert not (tmp_path / "x").exists()
