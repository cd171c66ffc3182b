"""Scoring on DRC's own crops of a real dataset (``<prepared>/drc/``, written by ``bench prep``; see
``data_prep.drc_crops``): each image's 128 x 128 DRC crop is resized to the prepared size the
method was trained at, and its predicted mask is compared with the dithered 128 x 128 ground truth
(the prediction is resized to it by nearest neighbour, as every mask comparison here)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from benchmark.protocols.images import protocol_rows
from benchmark.tasks.common import EvalOptions, segment_batch, subsample
from core.contract import Method
from core.errors import UserError
from data_prep.drc_crops import DRC_DIR, drc_paths
from data_prep.prepared import Prepared


def collect_drc_masks(method: Method, prepared: Prepared, options: EvalOptions) -> tuple[np.ndarray, np.ndarray]:
    from benchmark import protocols

    if not (prepared.root / DRC_DIR).is_dir():
        raise UserError(f"{prepared.root / DRC_DIR} is missing: the drc2021 protocol scores DRC's crops; "
                        "prepare the dataset again with `bench prep` (it now writes them)")
    indices = subsample(protocol_rows(prepared, protocols.get("drc2021"), "segmentation"), options.max_images,
                        options.seed)
    ids = prepared.manifest["image_id"].to_numpy()[indices]
    predicted, truth = [], []
    with torch.inference_mode():
        for start in range(0, len(ids), options.batch_size):
            images, masks = [], []
            for image_id in ids[start:start + options.batch_size]:
                image_path, mask_path = drc_paths(prepared.root, image_id)
                with Image.open(image_path) as im:
                    im = im.convert("RGB").resize((prepared.size, prepared.size), Image.Resampling.BICUBIC)
                    images.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255.0)
                with Image.open(mask_path) as m:
                    masks.append(np.asarray(m.convert("L")) > 127)
            batch = {"image": torch.stack(images), "index": torch.from_numpy(indices[start:start + len(images)])}
            predicted.append(segment_batch(method, prepared, batch, options.device).float().cpu().numpy()[:, 0])
            truth.append(np.stack(masks))
    if not truth:
        raise UserError(f"{prepared.root}: no image to score under drc2021")
    return np.concatenate(predicted), np.concatenate(truth)
