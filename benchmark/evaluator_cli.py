"""``bench train-evaluator``: train the classifier that scores generation (FID/IS/CFID/CIS features).

    bench train-evaluator --data PREPARED --arch {inception_v3,small} [--init FILE] [--epochs N]
                          [--out FILE] [--seed 0]

Same keywords as ``benchmark.evaluator_training.train_evaluator``. Rerunning resumes an unfinished
checkpoint (``--restart`` replaces it); SIGTERM or Ctrl-C keeps the last finished epoch's checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.evaluator_training import EVALUATOR_PRESETS, train_evaluator
from benchmark.features.evaluator import ARCHS, evaluator_summary
from core.locking import path_lock
from data_prep.prepared import load_prepared


def default_out(prepared_dir: Path, arch: str, seed: int) -> Path:
    prepared = load_prepared(prepared_dir)
    return Path("runs") / "evaluators" / f"{prepared.name}-{prepared.fingerprint[:8]}-{arch}-seed{seed}.pt"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="prepared dataset directory (bench prep)")
    parser.add_argument("--arch", choices=ARCHS, required=True,
                        help="inception_v3 (the paper's fine-tuned InceptionV3, GPU) or small (CPU, synthetic)")
    parser.add_argument("--init", type=Path, default=None,
                        help="torchvision ImageNet inception_v3 weights to fine-tune from (default: from scratch)")
    preset_epochs = ", ".join(f"{arch} {preset.epochs}" for arch, preset in EVALUATOR_PRESETS.items())
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs (default: {preset_epochs})")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the arch's preset)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size (default: the arch's preset)")
    parser.add_argument("--out", type=Path, default=None,
                        help="checkpoint path (default: runs/evaluators/<dataset>-<fingerprint>-<arch>-seed<seed>.pt)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out split and the training")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    parser.add_argument("--restart", action="store_true", help="delete the checkpoint at OUT and train anew")


def main(args: argparse.Namespace) -> int:
    out = args.out or default_out(args.data, args.arch, args.seed)
    with path_lock(out, "training the evaluator classifier"):
        path = train_evaluator(args.data, args.arch, out, init=args.init, epochs=args.epochs, seed=args.seed,
                               lr=args.lr, batch_size=args.batch_size, device=args.device, restart=args.restart)
    summary = evaluator_summary(path)
    print(f"{path}: {summary['config']['arch']} evaluator, {summary['epoch']} epochs, held-out accuracy "
          f"{summary['heldout_accuracy']:.4f} on {summary['heldout_count']} images")
    return 0
