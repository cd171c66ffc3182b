"""IOU and DICE on hand-computed masks, empty masks, resizing and bad input."""

import numpy as np
import pytest

from benchmark.metrics import dice, iou, resize_nearest


def test_hand_computed_case():
    gt = np.zeros((4, 4), bool)
    gt[:2, :2] = True                       # 4 pixels
    pred = np.zeros((4, 4))
    pred[:2, :3] = 0.9                      # 6 pixels, 4 shared -> IOU 4/6, DICE 8/10
    pred[3, 3] = 0.5                        # exactly 0.5 is background (threshold > 0.5)
    assert iou([pred], [gt]).mean == pytest.approx(4 / 6)
    assert dice([pred], [gt]).mean == pytest.approx(8 / 10)


def test_mean_and_pooled_differ_as_computed_by_hand():
    gt = np.zeros((2, 4, 4), bool)
    gt[0, :, :] = True                      # image 0: 16 px GT, prediction 8 px inside -> 8/16
    gt[1, 0, 0] = True                      # image 1: 1 px GT, prediction misses -> 0 / 2
    pred = np.zeros((2, 4, 4), bool)
    pred[0, :2, :] = True
    pred[1, 3, 3] = True
    scores = iou(pred, gt)
    assert scores.per_image.tolist() == pytest.approx([0.5, 0.0])
    assert scores.mean == pytest.approx(0.25)
    assert scores.pooled == pytest.approx(8 / (16 + 2))
    assert dice(pred, gt).pooled == pytest.approx(2 * 8 / (8 + 1 + 16 + 1))


def test_empty_mask_conventions():
    empty = np.zeros((1, 3, 3), bool)
    full = np.ones((1, 3, 3), bool)
    assert iou(empty, empty).mean == 1.0 and dice(empty, empty).mean == 1.0
    assert iou(empty, empty).pooled == 1.0
    assert iou(full, empty).mean == 0.0 and dice(empty, full).mean == 0.0


def test_dice_is_a_function_of_iou_per_image():
    rng = np.random.default_rng(0)
    pred, gt = rng.random((20, 1, 9, 9)), rng.random((20, 9, 9)) > 0.6
    pred[0] = 0  # include an image with an empty prediction
    per_iou, per_dice = iou(pred, gt).per_image, dice(pred, gt).per_image
    np.testing.assert_allclose(per_dice, 2 * per_iou / (1 + per_iou), rtol=1e-12)


def test_predictions_are_resized_to_the_ground_truth_size():
    pred = np.zeros((2, 2))
    pred[0, 0] = 1.0                                  # top-left quarter
    gt = np.zeros((6, 6), bool)
    gt[:3, :3] = True
    assert iou([pred], [gt]).mean == 1.0
    gt_small = np.array([[True, False], [False, False]])
    big_pred = np.kron(gt_small, np.ones((5, 5)))     # 10x10 -> 2x2 keeps the quarter
    assert iou([big_pred], [gt_small]).mean == 1.0
    # Different ground-truth sizes within one call.
    assert iou([pred, pred], [gt, gt_small]).per_image.tolist() == [1.0, 1.0]
    assert resize_nearest(np.arange(3)[None].repeat(3, 0), 3, 6)[0].tolist() == [0, 0, 1, 1, 2, 2]


def test_swap_invariant_scores_the_better_orientation():
    gt = np.zeros((1, 4, 4), bool)
    gt[0, :, :1] = True
    inverted = ~gt
    assert iou(inverted, gt).mean == 0.0
    assert iou(inverted, gt, swap_invariant=True).mean == 1.0
    assert dice(inverted, gt, swap_invariant=True).mean == 1.0


@pytest.mark.parametrize("pred, gt, message", [
    (np.zeros((2, 3, 3)), np.zeros((3, 3, 3)), "has 2 masks but gt_masks has 3"),
    (np.zeros((1, 3, 3)) + 255, np.zeros((1, 3, 3)), "divide 0/255"),
    (np.full((1, 3, 3), np.nan), np.zeros((1, 3, 3)), "NaN"),
    (np.zeros((0, 3, 3)), np.zeros((0, 3, 3)), "no masks"),
    (np.zeros((3, 3)), np.zeros((3, 3)), "got shape"),
    ([np.zeros((2, 2, 2))], [np.zeros((2, 2))], "2-D mask"),
    ([np.zeros((0, 2))], [np.zeros((2, 2))], "empty"),
])
def test_bad_masks_raise(pred, gt, message):
    with pytest.raises(ValueError, match=message):
        iou(pred, gt)
