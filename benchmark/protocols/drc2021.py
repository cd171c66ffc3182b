"""Deep Region Competition's segmentation protocol (Yu et al., NeurIPS 2021;
yuPeiyu98/Deep-Region-Competition ``drc_workspace/test.py``, ``drc_workspace/data/dataset.py``).

* Images: the FineGAN crop (r = int(0.75 max(w, h)) around the box centre, clipped) of image and
  mask, both squashed to 128 x 128; the GT mask is read with PIL ``convert('1')``, which *dithers*
  soft values (Floyd-Steinberg), then resized (PIL resizes mode-'1' images by nearest neighbour).
  Configs ``*_all.yml`` score every image (this protocol's image set); ``*_split.yml`` a test split.
* Scoring: prediction and GT thresholded at 0.5; per image IoU = |P & G| / |P | G| and
  DICE = 2 |P & G| / (|P| + |G|); the mean over images. No foreground/background swap. An image
  where both masks are empty is 0/0 = NaN in DRC's code, and the NaN propagates into the mean: this
  protocol keeps that (an undefined score is not silently called perfect).
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics.segmentation import mask_overlaps
from benchmark.protocols.base import Protocol, Source
from data_prep.drc_crops import DRC_SIZE as RESOLUTION
from data_prep.drc_crops import binarise_gt


def per_image_scores(pred_masks: object, gt_masks: object) -> tuple[np.ndarray, np.ndarray]:
    """Per-image IoU and DICE as fractions, NaN where the denominator is 0."""
    overlaps = mask_overlaps(pred_masks, gt_masks)
    inter = overlaps.intersection.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / overlaps.union
        dice = 2 * inter / (overlaps.predicted + overlaps.target)
    return iou, dice


def score_masks(pred_masks: object, gt_masks: object) -> dict[str, float]:
    iou, dice = per_image_scores(pred_masks, gt_masks)
    # A plain sum, as DRC's running total: one NaN image makes the mean NaN.
    return {"iou": 100.0 * float(iou.sum()) / len(iou), "dice": 100.0 * float(dice.sum()) / len(dice)}


def undefined_images(pred_masks: object, gt_masks: object) -> int:
    """How many images score NaN (both masks empty): what makes a DRC mean NaN."""
    iou, _ = per_image_scores(pred_masks, gt_masks)
    return int(np.count_nonzero(np.isnan(iou)))


PROTOCOL = Protocol(
    name="drc2021", version=1,
    title="DRC (NeurIPS 2021): FineGAN crop at 128, dithered GT, per-image IoU/DICE, no swap",
    source=Source(paper="Yu et al., Unsupervised Foreground Extraction via Deep Region Competition, NeurIPS 2021",
                  repository="github.com/yuPeiyu98/Deep-Region-Competition",
                  files=("drc_workspace/test.py", "drc_workspace/data/dataset.py",
                         "drc_workspace/config_gallery/*_all.yml")),
    tasks=("segmentation",),
    images="with-objects",
    crop="FineGAN crop r = int(0.75 max(w, h)) around the box centre, clipped, squashed to 128 x 128 "
         "(bench prep writes it under drc/; the synthetic world is scored on its full frames)",
    resolution=RESOLUTION,
    gt_binarisation="PIL convert('1') of the 8-bit mask (Floyd-Steinberg dither), nearest resize",
    acc_matching="not applicable",
    nmi_normalisation="not applicable",
    mask_reduction="per-image mean, percent; no fg/bg swap",
    empty_masks="both empty: NaN (0/0), which makes the mean NaN, as in DRC's test.py",
    mask_scorer=score_masks,
)

__all__ = ["PROTOCOL", "RESOLUTION", "binarise_gt", "per_image_scores", "score_masks", "undefined_images"]
