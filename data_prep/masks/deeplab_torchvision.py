"""DeepLabV3-ResNet101 pseudo-masks with torchvision (the main environment's backend).

Loads a state dict of ``torchvision.models.segmentation.deeplabv3_resnet101`` with the 21-class
VOC-label head (the COCO-trained release, ``deeplabv3_resnet101_coco-586e9e4e.pth``) from a local
file; the auxiliary head is built when the file holds it. Inference runs in batches under
``torch.inference_mode`` and streams the jobs from disk, so memory stays bounded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision.models.segmentation import deeplabv3_resnet101
from tqdm import tqdm

from core.checkpoint_file import UnsafeCheckpointError, load_data_only
from core.device import pick_device
from core.errors import UserError
from data_prep.masks.pseudo import MaskJob, batches, finish_job, load_normalised


def load_deeplab(weights: Path, device: str = "cpu") -> torch.nn.Module:
    """The model with the weights of ``weights`` (strict load; a mismatch names the file)."""
    try:
        state = load_data_only(weights)
    except UnsafeCheckpointError:
        raise
    except Exception as err:  # torch raises many types for a bad file
        raise UserError(f"cannot read DeepLabV3 weights {weights}: {err}") from err
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a training checkpoint rather than a bare state dict
    has_aux = any(key.startswith("aux_classifier.") for key in state)
    model = deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21, aux_loss=has_aux)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise UserError(f"{weights} is not a deeplabv3_resnet101 (21 classes) state dict: "
                        f"{str(err).splitlines()[0]}") from err
    return model.eval().to(device)


def run_jobs(jobs: list[MaskJob], weights: Path, device: str | None = None, batch_size: int = 8,
             progress: bool = True) -> None:
    """Predict and write the mask of every job."""
    device = pick_device(device)
    model = load_deeplab(weights, device)
    with torch.inference_mode():
        for batch in tqdm(list(batches(jobs, batch_size)), desc="deeplabv3 masks", unit="batch",
                          disable=not progress):
            inputs = torch.from_numpy(load_normalised(batch)).to(device)
            labels = model(inputs)["out"].argmax(1).cpu().numpy().astype(np.int64)
            for job, label_map in zip(batch, labels, strict=True):
                finish_job(job, label_map)
