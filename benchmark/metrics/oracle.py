"""The OneGAN paper's § oracle for methods whose output is a multi-label segmentation (Table 2, "UISB§",
"IIC-seg stf§"): an unfair upper bound, never ranked against a method's own foreground mask.

OneGAN §4 (unsupervised foreground segmentation): "we look for each image for the class that has the
highest IOU with the ground-truth foreground. The rest of the classes are merged to a single
background class. We then repeat with a single background class and the rest merged into foreground.
Finally, taking the best out of the two options". Per image, with label map L and ground truth G,
the candidate masks are {L == l} and {L != l} for every label l that L contains; the oracle's mask is
the candidate with the highest IOU against G. DICE = 2 IOU / (1 + IOU) per image, so the same
candidate maximises both and the oracle's DICE is that mask's DICE.

Conventions as ``benchmark.metrics.segmentation``: G is a bool or [0, 1] mask (thresholded > 0.5);
L is resized to G's size by nearest neighbour with pixel centres aligned; an empty candidate against
an empty G scores 1. Ties go to the smaller label, and "label is foreground" before "label is
background" (a fixed order, so the chosen mask is reproducible).
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics.segmentation import _as_mask_list, binarize, resize_nearest


def _label_map(name: str, labels: object) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D label map (H, W); got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} has dtype {array.dtype}; label maps hold integers")
    if array.min() < 0:
        raise ValueError(f"{name} has negative labels ({array.min()})")
    return array.astype(np.int64, copy=False)


def oracle_candidate_ious(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """IOU of every candidate of one image: (L, 2) for labels 0..L-1, column 0 "label l is foreground",
    column 1 "label l is background"; NaN for labels absent from the map (not a candidate)."""
    count = int(labels.max()) + 1
    size = np.bincount(labels.ravel(), minlength=count)
    inter = np.bincount(labels[truth], minlength=count)
    target, pixels = int(truth.sum()), labels.size
    scores = np.full((count, 2), np.nan)
    for column, (i, p) in enumerate(((inter, size), (target - inter, pixels - size))):
        union = p + target - i
        scores[:, column] = np.where(union == 0, 1.0, i / np.maximum(union, 1))
    scores[size == 0] = np.nan
    return scores


def oracle_label_masks(pred_labels: object, gt_masks: object) -> list[np.ndarray]:
    """Per image, the § oracle's boolean mask (at the ground truth's size) from a label map."""
    maps = _as_mask_list("pred_labels", pred_labels)
    gts = _as_mask_list("gt_masks", gt_masks)
    if len(maps) != len(gts):
        raise ValueError(f"pred_labels has {len(maps)} maps but gt_masks has {len(gts)}")
    chosen = []
    for i, (raw, gt) in enumerate(zip(maps, gts, strict=True)):
        truth = binarize(f"gt_masks[{i}]", gt)
        labels = resize_nearest(_label_map(f"pred_labels[{i}]", raw), *truth.shape)
        scores = oracle_candidate_ious(labels, truth)
        best = int(np.nanargmax(scores.ravel()))   # row-major: (l0 fg, l0 bg, l1 fg, ...): first max wins
        label, as_background = divmod(best, 2)
        chosen.append(labels != label if as_background else labels == label)
    return chosen
