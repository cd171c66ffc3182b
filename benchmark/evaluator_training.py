"""Training the evaluator classifiers that score generation (``bench train-evaluator``; ``bench run``
trains one when none is given), on the training scaffold ``core.training_run``.

``train_evaluator`` trains (Adam, cosine learning-rate decay over the epochs, random flips) on the
prepared dataset's labelled object images (role ``fg``), holds out a stratified ``holdout_fraction``
per class (seeded), saves an atomic checkpoint after every epoch with the held-out accuracy, and
returns its path. An epoch is the unit of resumption: each is reseeded, so a resumed run equals an
uninterrupted one; a signal (SIGTERM, Ctrl-C, ...) stops the running epoch at the next batch and keeps
the last epoch's checkpoint. The networks and the extractor are in ``benchmark.features.evaluator``.

``bench train-evaluator`` calls ``train_evaluator_file`` (its options: ``EvaluatorOptions``):

    bench train-evaluator --data PREPARED --arch {inception_v3,small} [--init FILE] [--epochs N]
                          [--out FILE] [--seed 0]

Rerunning resumes an unfinished checkpoint (``--restart`` replaces it); SIGTERM or Ctrl-C keeps the
last finished epoch's checkpoint.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from benchmark.features.evaluator import (
    ARCHS,
    CHECKPOINT_FORMAT,
    IMAGENET_INCEPTION_FILE,
    IMAGENET_INCEPTION_URL,
    EvaluatorNet,
    EvaluatorOptionError,
    InvalidCheckpointError,
    evaluator_summary,
    read_evaluator_checkpoint,
)
from benchmark.features.inception import file_digest
from core.checkpoint_file import load_data_only
from core.cli_options import cli
from core.errors import MissingWeightsError, UserError
from core.locking import path_lock
from core.provenance import compute_environment, git_commit, package_versions
from core.training_run import CheckpointPolicy, StepAbandoned, pick_device, run_loop, save_checkpoint, signal_pending
from data_prep.datasets import ObjectImages
from data_prep.prepared import Prepared, load_prepared


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


def _restart(out: Path) -> None:
    """Remove an old evaluator checkpoint (renamed aside first: a reader sees it whole or not at all)."""
    if out.exists():
        aside = out.with_name(f".{out.name}.restarted-{os.getpid()}")
        os.replace(out, aside)
        if aside.is_dir():
            shutil.rmtree(aside)
        else:
            aside.unlink()


def _check_resumable(checkpoint: dict, identity: dict, config: EvaluatorConfig, out: Path) -> None:
    """The checkpoint must be of this run (data, arch, seed, init) and settings; another number of
    epochs than it was planned with cannot continue it exactly (the cosine schedule spans them)."""
    if checkpoint["run"] != identity:
        raise InvalidCheckpointError(f"{out} holds an evaluator of another run ({checkpoint['run']}); "
                                     "--restart to replace it, or choose another --out")
    saved, wanted = checkpoint["config"], asdict(config)
    differing = sorted(k for k in wanted if k not in ("epochs", "num_workers") and saved.get(k) != wanted[k])
    if differing:
        details = ", ".join(f"{k} {saved.get(k)!r} -> {wanted[k]!r}" for k in differing)
        raise InvalidCheckpointError(f"{out} was trained with other settings ({details}); "
                                     "--restart to replace it, or choose another --out")
    if config.epochs != saved["epochs"]:
        raise InvalidCheckpointError(
            f"{out} is on a {saved['epochs']}-epoch learning-rate schedule; it cannot be continued to "
            f"{config.epochs} epochs exactly (the cosine decay spans the planned epochs): --restart to retrain")


def train_evaluator(data: str | os.PathLike | Prepared, arch: str, out: str | os.PathLike,
                    init: str | os.PathLike | None = None, epochs: int | None = None, seed: int = 0,
                    lr: float | None = None, batch_size: int | None = None, device: str | None = None,
                    progress: bool = True, restart: bool = False) -> Path:
    """Train (or resume) an evaluator classifier on ``data``'s labelled images; returns ``out``.

    A finished checkpoint at ``out`` for the same data/arch/seed is returned as is; an unfinished
    one is resumed (epoch by epoch; each epoch reseeded, so a resumed run equals an uninterrupted one
    on CPU); ``restart`` deletes it first. ``epochs``, ``lr``, ``batch_size`` override the arch's preset.
    """
    if arch not in EVALUATOR_PRESETS:
        raise EvaluatorOptionError(f"unknown evaluator arch {arch!r}; choose one of {ARCHS}")
    prepared = data if isinstance(data, Prepared) else load_prepared(data)
    out = Path(out)
    overrides = {k: v for k, v in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)) if v is not None}
    config = replace(EVALUATOR_PRESETS[arch], **overrides)
    if config.epochs < 1:
        raise EvaluatorOptionError(f"epochs must be at least 1; got {config.epochs}")
    run_device = pick_device(device)

    dataset = ObjectImages(prepared, role="fg")
    if len(dataset) == 0:
        raise UserError(f"{prepared.root} has no labelled object images (role 'fg') to train on")
    train_rows, heldout_rows = heldout_split(dataset.class_ids, config.holdout_fraction, seed)
    torch.manual_seed(seed)  # initial weights
    net = EvaluatorNet(arch, prepared.num_classes, config.image_size)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    identity = {"fingerprint": prepared.fingerprint, "arch": arch, "seed": seed,
                "init_digest": file_digest(Path(init)) if init and Path(init).is_file() else None}

    if restart:
        _restart(out)
    checkpoint: dict = {}
    if out.exists():
        checkpoint = read_evaluator_checkpoint(out)
        if checkpoint["run"] == identity and checkpoint["epoch"] >= min(config.epochs, checkpoint["config"]["epochs"]):
            return out  # finished (a finished run asked for fewer epochs is returned as it is)
        _check_resumable(checkpoint, identity, config, out)
        net.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
    elif init is not None:
        load_imagenet_init(net, Path(init))
    net.to(run_device)
    history = checkpoint.get("history", [])

    train_set = Subset(ObjectImages(prepared, role="fg", flip=True), train_rows.tolist())
    heldout_set = Subset(dataset, heldout_rows.tolist())
    state: dict = {}

    def epoch_step(epoch: int) -> None:
        torch.manual_seed(seed * 100_003 + epoch)  # flips and shuffling, per epoch: resumable
        for group in optimizer.param_groups:  # cosine decay by epoch, so the last epochs settle
            group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))
        loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, drop_last=False,
                            num_workers=config.num_workers, pin_memory=run_device.type == "cuda")
        net.train()
        total_loss, seen = 0.0, 0
        for batch in tqdm(loader, desc=f"evaluator {arch} epoch {epoch + 1}/{config.epochs}",
                          disable=not progress, leave=False):
            if signal_pending():
                raise StepAbandoned  # the epoch is redone on resume (its start is reseeded)
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
        state.update(epoch=epoch + 1, heldout_accuracy=heldout_accuracy)

    def save(_done: bool) -> None:
        save_checkpoint(out, {
            "format": CHECKPOINT_FORMAT, "run": identity, "config": asdict(config),
            "num_classes": prepared.num_classes, "dataset": prepared.name, "data_root": str(prepared.root),
            "init": str(init) if init else None, "epoch": state["epoch"],
            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "optimizer": optimizer.state_dict(), "history": history,
            "heldout_accuracy": state["heldout_accuracy"], "heldout_count": len(heldout_set),
            "train_count": len(train_set),
            "heldout_image_ids": dataset.rows["image_id"].iloc[heldout_rows].tolist(),
            "provenance": {"git_commit": git_commit(), "packages": package_versions(),
                           "compute": compute_environment()},
        })

    run_loop(what=f"evaluator {arch}", start=checkpoint.get("epoch", 0), total=config.epochs, step=epoch_step,
             save=save, checkpoint_path=out, policy=CheckpointPolicy(every_iterations=1, every_minutes=None),
             progress=False, unit="epoch")
    return out


def default_out(prepared_dir: str | os.PathLike, arch: str, seed: int) -> Path:
    """``bench train-evaluator``'s checkpoint path when ``--out`` is not given."""
    prepared = load_prepared(prepared_dir)
    return Path("runs") / "evaluators" / f"{prepared.name}-{prepared.fingerprint[:8]}-{arch}-seed{seed}.pt"


_PRESET_EPOCHS = ", ".join(f"{arch} {preset.epochs}" for arch, preset in EVALUATOR_PRESETS.items())


@dataclass(frozen=True)
class EvaluatorOptions:
    """What ``bench train-evaluator`` (and ``train_evaluator_file``) takes; field order is the help's order."""

    data: Path = field(metadata=cli("prepared dataset directory (bench prep)", type=Path))
    arch: str = field(metadata=cli(
        "inception_v3 (the paper's fine-tuned InceptionV3, GPU) or small (CPU, synthetic)", choices=ARCHS))
    init: Path | None = field(default=None, metadata=cli(
        "torchvision ImageNet inception_v3 weights to fine-tune from (default: from scratch)", type=Path))
    epochs: int | None = field(default=None, metadata=cli(f"training epochs (default: {_PRESET_EPOCHS})", type=int))
    lr: float | None = field(default=None, metadata=cli("learning rate (default: the arch's preset)", type=float))
    batch_size: int | None = field(default=None, metadata=cli("batch size (default: the arch's preset)", type=int))
    out: Path | None = field(default=None, metadata=cli(
        "checkpoint path (default: runs/evaluators/<dataset>-<fingerprint>-<arch>-seed<seed>.pt)", type=Path))
    seed: int = field(default=0, metadata=cli("seed of the held-out split and the training", type=int))
    device: str | None = field(default=None, metadata=cli("torch device (default: cuda when available)"))
    restart: bool = field(default=False, metadata=cli("delete the checkpoint at OUT and train anew"))


def train_evaluator_file(data: str | os.PathLike, arch: str, init: str | os.PathLike | None = EvaluatorOptions.init,
                         epochs: int | None = EvaluatorOptions.epochs, lr: float | None = EvaluatorOptions.lr,
                         batch_size: int | None = EvaluatorOptions.batch_size,
                         out: str | os.PathLike | None = EvaluatorOptions.out, seed: int = EvaluatorOptions.seed,
                         device: str | None = EvaluatorOptions.device,
                         restart: bool = EvaluatorOptions.restart) -> Path:
    """The API behind ``bench train-evaluator`` (the options of ``EvaluatorOptions``): ``train_evaluator``
    into ``out`` (default ``default_out``) under that file's lock, then print the checkpoint's summary
    (epochs, held-out accuracy); returns its path."""
    out = Path(out) if out is not None else default_out(data, arch, seed)
    with path_lock(out, "training the evaluator classifier"):
        path = train_evaluator(data, arch, out, init=init, epochs=epochs, seed=seed, lr=lr, batch_size=batch_size,
                               device=device, restart=restart)
    summary = evaluator_summary(path)
    print(f"{path}: {summary['config']['arch']} evaluator, {summary['epoch']} epochs, held-out accuracy "
          f"{summary['heldout_accuracy']:.4f} on {summary['heldout_count']} images")
    return path
