"""Classifiers trained by the suite to score generation (the paper: "an InceptionV3 fine-tuned on
each dataset"; FineGAN's protocol fine-tunes on the dataset with an 80/20 split).

Architectures:
* ``inception_v3``: torchvision's InceptionV3 (no auxiliary head), last layer replaced by NC classes,
  fine-tuned from ImageNet weights when ``init`` names a local torchvision state dict
  (``inception_v3_google-0cc3c7bd.pth``), from scratch otherwise. Input 299 px. GPU scale.
* ``small``: a compact CNN for the synthetic dataset and CPU runs. Input 64 px.
Both see images mapped to [-1, 1] (what the Google InceptionV3 weights expect), resized to their
input size. Features for FID are the pooled penultimate activations (2048-d / 128-d); probabilities
are the softmax of the NC logits.

``benchmark.evaluator_training.train_evaluator`` trains one (on the training scaffold,
``core.training_run``). ``load_evaluator`` gives an ``Extractor``; the registry knows it as
``evaluator:<checkpoint path>``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.features.inception import file_digest
from benchmark.features.registry import Extractor, register_extractor
from core.checkpoint_file import load_data_only
from core.device import pick_device
from core.errors import UserError

CHECKPOINT_FORMAT = "onegan-bench-evaluator/1"
ARCHS = ("small", "inception_v3")
IMAGENET_INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"
IMAGENET_INCEPTION_URL = f"https://download.pytorch.org/models/{IMAGENET_INCEPTION_FILE}"


class InvalidCheckpointError(UserError, ValueError):
    """A file is not an evaluator checkpoint of this suite, or does not match the requested run."""


class EvaluatorOptionError(UserError, ValueError):
    """An evaluator option the user gave is invalid (arch, epochs, --init with the wrong arch)."""


class SmallBackbone(nn.Module):
    """Four stride-2 conv blocks (32-64-128-128 channels) and global average pooling -> 128-d."""

    feature_dim = 128

    def __init__(self) -> None:
        super().__init__()
        layers, channels = [], 3
        for width in (32, 64, 128, 128):
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            channels = width
        self.convs = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.convs(images).mean(dim=(2, 3))


def _inception_backbone() -> tuple[nn.Module, int]:
    from torchvision.models import inception_v3

    model = inception_v3(weights=None, aux_logits=False, init_weights=True, transform_input=False)
    feature_dim = model.fc.in_features
    model.fc = nn.Identity()
    return model, feature_dim


class EvaluatorNet(nn.Module):
    """backbone (features) + linear head (NC logits), with its own resize and [-1, 1] mapping."""

    def __init__(self, arch: str, num_classes: int, image_size: int) -> None:
        super().__init__()
        if arch == "small":
            self.backbone, feature_dim = SmallBackbone(), SmallBackbone.feature_dim
        elif arch == "inception_v3":
            self.backbone, feature_dim = _inception_backbone()
        else:
            raise ValueError(f"unknown evaluator arch {arch!r}; choose one of {ARCHS}")
        self.arch, self.image_size = arch, image_size
        self.head = nn.Linear(feature_dim, num_classes)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                   align_corners=False, antialias=images.shape[-1] > self.image_size)
        features = self.backbone(images * 2 - 1)
        return features, self.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[1]


def read_evaluator_checkpoint(path: Path) -> dict:
    """The checkpoint dict at ``path`` (data only); one line when it is absent or not an evaluator's."""
    if not path.is_file():
        raise InvalidCheckpointError(f"evaluator checkpoint not found: {path} (train one with "
                                     "`bench train-evaluator`)")
    checkpoint = load_data_only(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise InvalidCheckpointError(f"{path} is not an evaluator checkpoint ({CHECKPOINT_FORMAT})")
    return checkpoint


def evaluator_summary(path: str | os.PathLike) -> dict:
    """The checkpoint's metadata without the weights (arch, epochs, held-out accuracy, ...)."""
    checkpoint = read_evaluator_checkpoint(Path(path))
    return {k: v for k, v in checkpoint.items() if k not in ("model", "optimizer", "heldout_image_ids")}


class EvaluatorExtractor(Extractor):
    """A trained evaluator as a feature extractor (penultimate features, softmax probabilities)."""

    def __init__(self, net: EvaluatorNet, identity: str, device: str | torch.device | None = None) -> None:
        self.net = net.eval().requires_grad_(False)
        self.identity = identity
        self.to(device or pick_device())

    def to(self, device: str | torch.device) -> EvaluatorExtractor:
        super().to(device)
        self.net.to(self.device)
        return self

    def features_and_probs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, logits = self.net.features_and_logits(self.check_images(images).to(self.device))
        return features, torch.softmax(logits.double(), dim=1).float()


def load_evaluator(path: str | os.PathLike, device: str | torch.device | None = None) -> EvaluatorExtractor:
    """The evaluator at ``path`` as an extractor; refuses unfinished or foreign checkpoints."""
    path = Path(path)
    checkpoint = read_evaluator_checkpoint(path)
    config = checkpoint["config"]
    if checkpoint["epoch"] < config["epochs"]:
        raise InvalidCheckpointError(f"{path} is an unfinished training (epoch {checkpoint['epoch']} of "
                                     f"{config['epochs']}); rerun `bench train-evaluator` to finish it")
    net = EvaluatorNet(config["arch"], checkpoint["num_classes"], config["image_size"])
    net.load_state_dict(checkpoint["model"])
    return EvaluatorExtractor(net, f"evaluator-{config['arch']}:{file_digest(path)}", device)


register_extractor("evaluator", load_evaluator)
