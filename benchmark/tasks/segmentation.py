"""Table 2, segmentation: foreground IOU and DICE of a method's masks against the GT/pseudo masks,
scored under the run's protocol (``benchmark.protocols``).

The predicted mask is thresholded at 0.5 and compared at the ground truth's resolution; values are
the per-image mean in percent. Under OneGAN's protocol the dataset-pooled variants and, for methods
whose two regions are unordered (ReDO, IIC-seg), the swap-invariant score are extra records. Under
DRC's, the images and masks are its FineGAN crops at 128 with dithered ground truth (``bench prep``
writes them under ``drc/``; the synthetic world, whose frames are not crops and whose masks are
exact, is scored on its prepared images), and an image with two empty masks makes the mean NaN.

Methods with the ``segment_labels`` capability (a multi-label segmentation: UISB, WNet's K classes,
IIC-seg's overclustering head) are also scored with the paper's § oracle under OneGAN's protocol
(``benchmark.metrics.oracle``): ``iou_oracle`` / ``dice_oracle``, shown on a § row of their own and never
ranked; ``iou`` / ``dice`` stay the method's own foreground mask (its fixed, label-free rule).
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark import protocols
from benchmark.metrics import dice, iou
from benchmark.metrics.oracle import oracle_label_masks
from benchmark.protocols.drc2021 import undefined_images
from benchmark.protocols.images import protocol_rows
from benchmark.tasks.common import (
    EvalOptions,
    TaskResult,
    iterate_images,
    no_masks_hint,
    rows_with_masks,
    segment_batch,
    subsample,
    validate_by_id,
)
from core.contract import SEGMENT_LABELS, Method
from core.errors import UserError
from data_prep.prepared import Prepared


def scores_oracle(method: Method, protocol_name: str) -> bool:
    """Whether the § oracle is scored: a label-map method, under OneGAN's protocol (the paper's §)."""
    return (protocol_name == "onegan2020" and method.can(SEGMENT_LABELS)
            and not getattr(method, "by_id", False))


def collect_masks(method: Method, prepared: Prepared, options: EvalOptions, with_labels: bool = False
                  ) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted soft masks, GT masks) as (N, H, W) arrays over the protocol's evaluation images, and with
    ``with_labels`` the method's label maps (N, H, W) from the same pass (``segment`` first, then
    ``segment_labels`` on the same batch, so a per-image method may reuse its work)."""
    protocol = protocols.get(options.protocol)
    if protocol.name == "drc2021" and prepared.name != "synthetic":
        from benchmark.protocols.drc_crops import collect_drc_masks

        return collect_drc_masks(method, prepared, options)
    indices = subsample(protocol_rows(prepared, protocol, "segmentation"), options.max_images, options.seed)
    if len(indices) == 0:
        raise UserError(no_masks_hint(prepared))
    predicted, truth, labels = [], [], []
    with torch.inference_mode():
        for batch in iterate_images(prepared, indices, options.batch_size, f"segment {method.name}"):
            masks = segment_batch(method, prepared, batch, options.device)
            predicted.append(masks.float().cpu().numpy()[:, 0])
            truth.append(batch["mask"].numpy()[:, 0] > 0.5)
            if with_labels:
                labels.append(method.segment_labels(batch["image"].to(options.device)).cpu().numpy().astype(np.int32))
    if with_labels:
        return np.concatenate(predicted), np.concatenate(truth), np.concatenate(labels)
    return np.concatenate(predicted), np.concatenate(truth)


def evaluate_segmentation(method: Method, prepared: Prepared, options: EvalOptions) -> TaskResult:
    protocol = protocols.get(options.protocol)
    rows = protocol_rows(prepared, protocol, "segmentation")
    if len(rows) == 0:
        raise UserError(no_masks_hint(prepared) if len(rows_with_masks(prepared)) == 0 else
                        f"{prepared.root}: no image with a mask is among the images {protocol.tag} scores")
    validate_by_id(method, prepared, "segment", rows)
    oracle = scores_oracle(method, protocol.name)
    collected = collect_masks(method, prepared, options, with_labels=oracle)
    predicted, truth = collected[0], collected[1]
    values = dict(protocol.score_masks(predicted, truth))
    details = {"images": len(truth), "images_total": len(rows), "threshold": 0.5, "protocol": protocol.tag,
               "reduction": protocol.mask_reduction, "empty_masks": protocol.empty_masks}
    if protocol.name == "onegan2020":
        iou_scores, dice_scores = iou(predicted, truth), dice(predicted, truth)
        values.update(iou_pooled=100.0 * iou_scores.pooled, dice_pooled=100.0 * dice_scores.pooled,
                      iou_swap_invariant=100.0 * iou(predicted, truth, swap_invariant=True).mean)
    if oracle:
        chosen = oracle_label_masks(collected[2], truth)
        values.update(iou_oracle=100.0 * iou(chosen, truth).mean, dice_oracle=100.0 * dice(chosen, truth).mean)
        details["oracle"] = "per image, the best label or its complement by IOU (the paper's §)"
    else:
        details["undefined_images"] = undefined_images(predicted, truth)
    return TaskResult(values, details)
