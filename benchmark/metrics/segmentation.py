"""Foreground segmentation scores (OneGAN Table 2, left half): IOU and DICE of predicted masks
against ground-truth masks.

Conventions (each stated because codebases differ):

* Masks: boolean, or numbers in [0, 1] that are thresholded ``> 0.5`` (soft masks, e.g. OneGAN's
  I_m). Numbers outside [0, 1] are refused (a 0/255 PNG must be divided by 255 first).
* Shapes: a batch array (N, H, W) or (N, 1, H, W), or a sequence of per-image (H, W)/(1, H, W)
  arrays whose sizes may differ. Each prediction is compared at its ground truth's resolution:
  it is resized there by nearest neighbour with pixel centres aligned (source index
  floor((i + 0.5) * in / out), as PIL's NEAREST and torch's 'nearest-exact').
* Per-image scores: IOU = |P & G| / |P | G|, DICE = 2 |P & G| / (|P| + |G|), so
  DICE = 2 IOU / (1 + IOU) image by image. An image where both masks are empty scores 1 (perfect
  agreement on "no object"); an empty mask against a non-empty one scores 0.
* Reductions: ``mean`` averages the per-image scores (what Deep Region Competition and ILSGAN
  report); ``pooled`` sums intersections and unions (or sizes) over the dataset first.
* ``swap_invariant=True`` scores each image with the better of the prediction and its complement,
  max(IOU(P, G), IOU(~P, G)), as ReDO does for its two unordered regions; DICE then uses the same
  orientation. OneGAN's mask is ordered (foreground), so the default is plain foreground scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.metrics.validation import require_finite

THRESHOLD = 0.5


@dataclass(frozen=True)
class MaskScores:
    """Per-image scores (N,), their mean, and the dataset-pooled score."""

    per_image: np.ndarray
    mean: float
    pooled: float


@dataclass(frozen=True)
class MaskOverlaps:
    """Per-image pixel counts: |P & G|, |P|, |G| (predictions at the ground truth's size)."""

    intersection: np.ndarray
    predicted: np.ndarray
    target: np.ndarray

    @property
    def union(self) -> np.ndarray:
        return self.predicted + self.target - self.intersection


def binarize(name: str, mask: object) -> np.ndarray:
    """A boolean (H, W) mask from a bool or [0, 1]-valued (H, W) or (1, H, W) array."""
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D mask (H, W) or (1, H, W); got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} has dtype {array.dtype}; expected bool or numbers in [0, 1]")
    require_finite(name, array.astype(np.float64))
    if array.min() < 0 or array.max() > 1:
        raise ValueError(f"{name} has values in [{array.min()}, {array.max()}]; masks must be bool or in "
                         "[0, 1] (divide 0/255 masks by 255)")
    return array > THRESHOLD


def resize_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D array with pixel centres aligned."""
    in_height, in_width = mask.shape
    if (in_height, in_width) == (height, width):
        return mask
    rows = np.minimum(((np.arange(height) + 0.5) * in_height / height).astype(np.int64), in_height - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * in_width / width).astype(np.int64), in_width - 1)
    return mask[rows[:, None], cols[None, :]]


def _as_mask_list(name: str, masks: object) -> list:
    if isinstance(masks, Sequence) and not isinstance(masks, str | bytes):
        items = list(masks)
    else:
        array = np.asarray(masks)
        if array.ndim == 4 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 3:
            raise ValueError(f"{name} must be (N, H, W), (N, 1, H, W) or a list of 2-D masks; got shape "
                             f"{array.shape}")
        items = list(array)
    if not items:
        raise ValueError(f"{name} holds no masks")
    return items


def mask_overlaps(pred_masks: object, gt_masks: object, swap_invariant: bool = False) -> MaskOverlaps:
    """Per-image |P & G|, |P|, |G| after thresholding and resizing P to G's size."""
    preds = _as_mask_list("pred_masks", pred_masks)
    gts = _as_mask_list("gt_masks", gt_masks)
    if len(preds) != len(gts):
        raise ValueError(f"pred_masks has {len(preds)} masks but gt_masks has {len(gts)}")
    counts = np.zeros((len(preds), 3), dtype=np.int64)
    for i, (pred, gt) in enumerate(zip(preds, gts, strict=True)):
        target = binarize(f"gt_masks[{i}]", gt)
        predicted = resize_nearest(binarize(f"pred_masks[{i}]", pred), *target.shape)
        if swap_invariant and _iou(*_counts(~predicted, target)) > _iou(*_counts(predicted, target)):
            predicted = ~predicted
        counts[i] = _counts(predicted, target)
    return MaskOverlaps(intersection=counts[:, 0], predicted=counts[:, 1], target=counts[:, 2])


def _counts(predicted: np.ndarray, target: np.ndarray) -> tuple[int, int, int]:
    return int(np.count_nonzero(predicted & target)), int(np.count_nonzero(predicted)), int(
        np.count_nonzero(target))


def _iou(intersection: float, predicted: float, target: float) -> float:
    union = predicted + target - intersection
    return 1.0 if union == 0 else intersection / union


def _dice(intersection: float, predicted: float, target: float) -> float:
    total = predicted + target
    return 1.0 if total == 0 else 2.0 * intersection / total


def _scores(overlaps: MaskOverlaps, score) -> MaskScores:
    per_image = np.array([score(i, p, t) for i, p, t in zip(overlaps.intersection, overlaps.predicted,
                                                            overlaps.target, strict=True)])
    pooled = score(overlaps.intersection.sum(), overlaps.predicted.sum(), overlaps.target.sum())
    return MaskScores(per_image=per_image, mean=float(per_image.mean()), pooled=float(pooled))


def iou(pred_masks: object, gt_masks: object, swap_invariant: bool = False) -> MaskScores:
    """Foreground intersection over union, per image, mean over images, and pooled."""
    return _scores(mask_overlaps(pred_masks, gt_masks, swap_invariant), _iou)


def dice(pred_masks: object, gt_masks: object, swap_invariant: bool = False) -> MaskScores:
    """Foreground DICE (F1 of the pixels), per image, mean over images, and pooled."""
    return _scores(mask_overlaps(pred_masks, gt_masks, swap_invariant), _dice)
