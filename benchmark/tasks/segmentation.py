"""Table 2, segmentation: foreground IOU and DICE of a method's masks against the GT/pseudo masks.

The predicted mask is thresholded at 0.5 and compared at the ground truth's resolution; values are
the per-image mean in percent (the paper's protocol), with the dataset-pooled variants and, for
methods whose two regions are unordered (ReDO, IIC-seg), the swap-invariant score as extra records.
"""

from __future__ import annotations

import numpy as np
import torch

from baselines.base import Method
from benchmark.metrics import dice, iou
from benchmark.tasks.common import (
    EvalOptions,
    TaskResult,
    iterate_images,
    rows_with_masks,
    segment_batch,
    subsample,
)
from data_prep.errors import UserError
from data_prep.prepared import Prepared


def collect_masks(method: Method, prepared: Prepared, options: EvalOptions) -> tuple[np.ndarray, np.ndarray]:
    """(predicted soft masks, GT masks) as (N, H, W) arrays over the evaluation images."""
    indices = subsample(rows_with_masks(prepared), options.max_images, options.seed)
    if len(indices) == 0:
        raise UserError(f"{prepared.root}: no image has a mask; prepare it with --masks gt or a DeepLabV3 backend")
    predicted, truth = [], []
    with torch.inference_mode():
        for batch in iterate_images(prepared, indices, options.batch_size, f"segment {method.name}"):
            masks = segment_batch(method, prepared, batch, options.device)
            predicted.append(masks.float().cpu().numpy()[:, 0])
            truth.append(batch["mask"].numpy()[:, 0] > 0.5)
    return np.concatenate(predicted), np.concatenate(truth)


def evaluate_segmentation(method: Method, prepared: Prepared, options: EvalOptions) -> TaskResult:
    predicted, truth = collect_masks(method, prepared, options)
    iou_scores, dice_scores = iou(predicted, truth), dice(predicted, truth)
    values = {
        "iou": 100.0 * iou_scores.mean,
        "dice": 100.0 * dice_scores.mean,
        "iou_pooled": 100.0 * iou_scores.pooled,
        "dice_pooled": 100.0 * dice_scores.pooled,
        "iou_swap_invariant": 100.0 * iou(predicted, truth, swap_invariant=True).mean,
    }
    return TaskResult(values, {"images": len(truth), "threshold": 0.5, "reduction": "per-image mean"})
