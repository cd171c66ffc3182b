"""Foreground masks for the object crops.

Modes (``bench prep --masks``):
  ``gt``                      the dataset's own segmentations (CUB), foreground = value > 127
  ``deeplabv3-torchvision``   DeepLabV3-ResNet101 pseudo-masks, torchvision state dict (``--weights FILE``)
  ``deeplabv3-gluoncv``       the paper's gluoncv ``deeplab_resnet101_coco`` (``--weights DIR``), run in
                              the ``gluoncv`` tox environment
  ``none``                    no masks (the manifest's ``mask`` column stays empty)

Pseudo-masks keep the pixels labelled with the dataset's VOC class inside the main bounding box.
This package's ``__init__`` imports no torch and no mxnet (the gluoncv environment imports it).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import MissingWeightsError, UserError

MASK_MODES = ("gt", "deeplabv3-torchvision", "deeplabv3-gluoncv", "none")
PSEUDO_MASK_MODES = ("deeplabv3-torchvision", "deeplabv3-gluoncv")

TORCHVISION_WEIGHTS_URL = "https://download.pytorch.org/models/deeplabv3_resnet101_coco-586e9e4e.pth"
GLUONCV_MODEL_NAME = "deeplab_resnet101_coco"


def find_gluoncv_params(weights: Path) -> Path | None:
    """The ``deeplab_resnet101_coco-<hash>.params`` file named by ``weights`` (the file itself or
    the folder gluoncv's model store writes it to)."""
    if weights.is_file() and weights.suffix == ".params":
        return weights
    if weights.is_dir():
        found = sorted(weights.glob(f"{GLUONCV_MODEL_NAME}*.params"))
        return found[0] if found else None
    return None


def check_mask_weights(mode: str, weights: str | Path | None) -> Path | None:
    """Resolve the weights a mask mode needs, or raise MissingWeightsError naming the file expected,
    where it was looked for and how to obtain it. Called before anything is written."""
    if mode not in MASK_MODES:
        raise UserError(f"unknown mask mode {mode!r}; choose one of {', '.join(MASK_MODES)}")
    if mode == "deeplabv3-torchvision":
        path = Path(weights) if weights else None
        if path is None or not path.is_file():
            where = f"at {path}" if path else "(no --weights given)"
            raise MissingWeightsError(
                f"DeepLabV3 torchvision weights not found {where}: pass --weights FILE naming a local copy of "
                f"deeplabv3_resnet101_coco-586e9e4e.pth; download {TORCHVISION_WEIGHTS_URL} on a machine "
                "with internet and copy it here (nothing is downloaded at run time)")
        return path
    if mode == "deeplabv3-gluoncv":
        path = Path(weights) if weights else None
        params = find_gluoncv_params(path) if path else None
        if params is None:
            where = f"in {path}" if path else "(no --weights given)"
            raise MissingWeightsError(
                f"gluoncv weights {GLUONCV_MODEL_NAME}-*.params not found {where}: pass --weights DIR holding "
                f"them; to obtain them, on a machine with internet run in the gluoncv environment "
                f"`python -c \"from gluoncv import model_zoo; model_zoo.get_model('{GLUONCV_MODEL_NAME}', "
                "pretrained=True, root='DIR')\"` and copy DIR here (nothing is downloaded at run time)")
        return params
    return None
