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

``train_evaluator`` trains (Adam, cosine learning-rate decay over the epochs, random flips) on the
prepared dataset's labelled object images (role ``fg``), holds out
a stratified ``holdout_fraction`` per class (seeded), saves an atomic checkpoint after every epoch
(resumable) with the held-out accuracy, and returns its path. ``load_evaluator`` gives an
``Extractor``; the registry knows it as ``evaluator:<checkpoint path>``.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from benchmark.features.inception import file_digest
from benchmark.features.registry import Extractor, default_device, register_extractor
from core.atomic import atomic_path
from core.checkpoint_file import load_data_only
from core.errors import MissingWeightsError, UserError
from core.provenance import compute_environment, git_commit, package_versions
from data_prep.datasets import ObjectImages
from data_prep.prepared import Prepared, load_prepared

CHECKPOINT_FORMAT = "onegan-bench-evaluator/1"
ARCHS = ("small", "inception_v3")
IMAGENET_INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"
IMAGENET_INCEPTION_URL = f"https://download.pytorch.org/models/{IMAGENET_INCEPTION_FILE}"


@dataclass(frozen=True)
class EvaluatorConfig:
    """Training settings of one evaluator architecture (``EVALUATOR_PRESETS`` holds the defaults)."""

    arch: str
    image_size: int
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4
    holdout_fraction: float = 0.2
    num_workers: int = 0


EVALUATOR_PRESETS = {
    "small": EvaluatorConfig(arch="small", image_size=64, epochs=15, batch_size=64, lr=1e-3),
    # Fine-tuning lr; from scratch, pass a larger lr (e.g. 1e-3) and more epochs.
    "inception_v3": EvaluatorConfig(arch="inception_v3", image_size=299, epochs=20, batch_size=32, lr=1e-4,
                                    num_workers=4),
}


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


def load_imagenet_init(net: EvaluatorNet, init: Path) -> None:
    """Load torchvision ImageNet InceptionV3 weights into the backbone (its fc/aux heads are dropped)."""
    if net.arch != "inception_v3":
        raise EvaluatorOptionError(f"--init applies to the inception_v3 evaluator, not {net.arch!r}")
    if not init.is_file():
        raise MissingWeightsError(f"ImageNet InceptionV3 weights not found at {init}: download "
                                  f"{IMAGENET_INCEPTION_URL} ({IMAGENET_INCEPTION_FILE}) and pass it with --init")
    state = load_data_only(init)
    state = state.get("state_dict", state)
    kept = {k: v for k, v in state.items() if not k.startswith(("fc.", "AuxLogits."))}
    result = net.backbone.load_state_dict(kept, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise InvalidCheckpointError(f"{init} is not a torchvision inception_v3 state dict (missing "
                                     f"{result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]})")


def heldout_split(class_ids: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows): per class, a seeded ceil(fraction * n) held out (none if n < 2)."""
    rng = np.random.default_rng(seed)
    train, heldout = [], []
    for c in np.unique(class_ids):
        rows = rng.permutation(np.flatnonzero(class_ids == c))
        count = math.ceil(fraction * rows.size - 1e-9) if rows.size >= 2 else 0
        heldout.append(rows[:count])
        train.append(rows[count:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(heldout))


def _accuracy(net: EvaluatorNet, dataset, batch_size: int, device: torch.device) -> float:
    if len(dataset) == 0:
        return float("nan")
    correct = 0
    net.eval()
    with torch.inference_mode():
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            logits = net(batch["image"].to(device))
            correct += int((logits.argmax(dim=1).cpu() == batch["class_id"]).sum())
    return correct / len(dataset)


def _save(checkpoint: dict, out: Path) -> None:
    with atomic_path(out) as tmp:
        torch.save(checkpoint, tmp)


def _read_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise InvalidCheckpointError(f"evaluator checkpoint not found: {path} (train one with "
                                     "`bench train-evaluator`)")
    checkpoint = load_data_only(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise InvalidCheckpointError(f"{path} is not an evaluator checkpoint ({CHECKPOINT_FORMAT})")
    return checkpoint


def train_evaluator(data: str | os.PathLike | Prepared, arch: str, out: str | os.PathLike,
                    init: str | os.PathLike | None = None, epochs: int | None = None, seed: int = 0,
                    lr: float | None = None, batch_size: int | None = None, device: str | None = None,
                    progress: bool = True) -> Path:
    """Train (or resume) an evaluator classifier on ``data``'s labelled images; returns ``out``.

    A finished checkpoint at ``out`` for the same data/arch/seed is returned as is; an unfinished
    one is resumed (epoch by epoch; each epoch reseeded, so a resumed run equals an uninterrupted one
    on CPU). ``epochs``, ``lr``, ``batch_size`` override the arch's preset.
    """
    if arch not in EVALUATOR_PRESETS:
        raise EvaluatorOptionError(f"unknown evaluator arch {arch!r}; choose one of {ARCHS}")
    prepared = data if isinstance(data, Prepared) else load_prepared(data)
    out = Path(out)
    overrides = {k: v for k, v in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)) if v is not None}
    config = replace(EVALUATOR_PRESETS[arch], **overrides)
    if config.epochs < 1:
        raise EvaluatorOptionError(f"epochs must be at least 1; got {config.epochs}")
    run_device = torch.device(device) if device else default_device()

    dataset = ObjectImages(prepared, role="fg")
    if len(dataset) == 0:
        raise UserError(f"{prepared.root} has no labelled object images (role 'fg') to train on")
    train_rows, heldout_rows = heldout_split(dataset.class_ids, config.holdout_fraction, seed)
    torch.manual_seed(seed)  # initial weights
    net = EvaluatorNet(arch, prepared.num_classes, config.image_size)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    identity = {"fingerprint": prepared.fingerprint, "arch": arch, "seed": seed,
                "init_digest": file_digest(Path(init)) if init and Path(init).is_file() else None}

    checkpoint: dict = {}
    if out.exists():
        checkpoint = _read_checkpoint(out)
        if checkpoint["run"] != identity:
            raise InvalidCheckpointError(f"{out} holds an evaluator of another run ({checkpoint['run']}); "
                                         "delete it or choose another --out")
        if checkpoint["epoch"] >= config.epochs:
            return out
        net.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
    elif init is not None:
        load_imagenet_init(net, Path(init))
    net.to(run_device)
    start_epoch = checkpoint.get("epoch", 0)
    history = checkpoint.get("history", [])

    train_set = Subset(ObjectImages(prepared, role="fg", flip=True), train_rows.tolist())
    heldout_set = Subset(dataset, heldout_rows.tolist())
    for epoch in range(start_epoch, config.epochs):
        torch.manual_seed(seed * 100_003 + epoch)  # flips and shuffling, per epoch: resumable
        for group in optimizer.param_groups:  # cosine decay by epoch, so the last epochs settle
            group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))
        loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, drop_last=False,
                            num_workers=config.num_workers, pin_memory=run_device.type == "cuda")
        net.train()
        total_loss, seen = 0.0, 0
        for batch in tqdm(loader, desc=f"evaluator {arch} epoch {epoch + 1}/{config.epochs}",
                          disable=not progress, leave=False):
            images, labels = batch["image"].to(run_device), batch["class_id"].to(run_device)
            loss = F.cross_entropy(net(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * labels.shape[0]
            seen += labels.shape[0]
        heldout_accuracy = _accuracy(net, heldout_set, config.batch_size, run_device)
        history.append({"epoch": epoch + 1, "train_loss": total_loss / max(seen, 1),
                        "heldout_accuracy": heldout_accuracy})
        checkpoint = {
            "format": CHECKPOINT_FORMAT, "run": identity, "config": asdict(config),
            "num_classes": prepared.num_classes, "dataset": prepared.name, "data_root": str(prepared.root),
            "init": str(init) if init else None, "epoch": epoch + 1,
            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "optimizer": optimizer.state_dict(), "history": history,
            "heldout_accuracy": heldout_accuracy, "heldout_count": len(heldout_set),
            "train_count": len(train_set),
            "heldout_image_ids": dataset.rows["image_id"].iloc[heldout_rows].tolist(),
            "provenance": {"git_commit": git_commit(), "packages": package_versions(),
                           "compute": compute_environment()},
        }
        _save(checkpoint, out)
    return out


def evaluator_summary(path: str | os.PathLike) -> dict:
    """The checkpoint's metadata without the weights (arch, epochs, held-out accuracy, ...)."""
    checkpoint = _read_checkpoint(Path(path))
    return {k: v for k, v in checkpoint.items() if k not in ("model", "optimizer", "heldout_image_ids")}


class EvaluatorExtractor(Extractor):
    """A trained evaluator as a feature extractor (penultimate features, softmax probabilities)."""

    def __init__(self, net: EvaluatorNet, identity: str, device: str | torch.device | None = None) -> None:
        self.net = net.eval().requires_grad_(False)
        self.identity = identity
        self.to(device or default_device())

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
    checkpoint = _read_checkpoint(path)
    config = checkpoint["config"]
    if checkpoint["epoch"] < config["epochs"]:
        raise InvalidCheckpointError(f"{path} is an unfinished training (epoch {checkpoint['epoch']} of "
                                     f"{config['epochs']}); rerun `bench train-evaluator` to finish it")
    net = EvaluatorNet(config["arch"], checkpoint["num_classes"], config["image_size"])
    net.load_state_dict(checkpoint["model"])
    return EvaluatorExtractor(net, f"evaluator-{config['arch']}:{file_digest(path)}", device)


register_extractor("evaluator", load_evaluator)
