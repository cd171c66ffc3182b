"""The paper's § oracle against brute force over every label and its complement."""

import numpy as np
import pytest

from benchmark.metrics import dice, iou
from benchmark.metrics.oracle import oracle_label_masks


def _brute_force_best_iou(labels: np.ndarray, truth: np.ndarray) -> float:
    best = -1.0
    for label in np.unique(labels):
        for mask in (labels == label, labels != label):
            best = max(best, iou([mask], [truth]).mean)
    return best


def test_oracle_equals_brute_force_over_labels_and_complements():
    rng = np.random.default_rng(0)
    for trial in range(30):
        labels = rng.integers(0, rng.integers(2, 7), size=(9, 11))
        truth = rng.random((9, 11)) < rng.random()
        chosen = oracle_label_masks(labels[None], truth[None])[0]
        assert iou([chosen], [truth]).mean == pytest.approx(_brute_force_best_iou(labels, truth)), trial
        # DICE is monotone in IOU image by image: the oracle's DICE is the best DICE as well
        best_dice = max(dice([m], [truth]).mean for v in np.unique(labels) for m in (labels == v, labels != v))
        assert dice([chosen], [truth]).mean == pytest.approx(best_dice)


def test_two_labels_give_the_swap_invariant_score():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=(6, 8, 8))
    truth = rng.random((6, 8, 8)) < 0.4
    chosen = oracle_label_masks(labels, truth)
    assert iou(chosen, truth).mean == pytest.approx(iou(labels.astype(bool), truth, swap_invariant=True).mean)


def test_hand_case_complement_and_resizing():
    # Three labels: the object is everything but label 0, which no single label covers.
    labels = np.array([[0, 0, 0, 0],
                       [0, 1, 2, 0],
                       [0, 2, 1, 0],
                       [0, 0, 0, 0]])
    truth = labels > 0
    chosen = oracle_label_masks(labels[None], truth[None])[0]
    assert np.array_equal(chosen, truth)
    # a label map at half the truth's resolution is resized by nearest neighbour first
    big_truth = np.kron(truth, np.ones((2, 2), bool))
    assert np.array_equal(oracle_label_masks([labels], [big_truth])[0], big_truth)


def test_labels_absent_from_the_map_are_no_candidates():
    labels = np.full((4, 4), 3)
    labels[:, 2:] = 5                        # labels 3 and 5 only
    truth = np.ones((4, 4), bool)
    # an absent label (0) "as background" would be the full mask, IOU 1; only 3, ~3, 5, ~5 count (IOU 1/2)
    chosen = oracle_label_masks(labels[None], truth[None])[0]
    assert iou([chosen], [truth]).mean == 0.5
    # and "one label as background, nothing left" is a candidate: the empty mask against an empty truth
    assert not oracle_label_masks(np.full((1, 4, 4), 3), np.zeros((1, 4, 4), bool))[0].any()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="integers"):
        oracle_label_masks(np.zeros((1, 4, 4)), np.zeros((1, 4, 4), bool))
    with pytest.raises(ValueError, match="maps but"):
        oracle_label_masks(np.zeros((2, 4, 4), int), np.zeros((1, 4, 4), bool))
    with pytest.raises(ValueError, match="negative"):
        oracle_label_masks(-np.ones((1, 4, 4), int), np.zeros((1, 4, 4), bool))
