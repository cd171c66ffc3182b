"""``bench prep``: prepare CUB, Stanford Dogs, Stanford Cars or the synthetic default dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import UserError
from data_prep.backgrounds import BackgroundRule
from data_prep.masks import MASK_MODES
from data_prep.prepared import load_prepared
from data_prep.summary import summarize

DATASETS = ("cub", "dogs", "cars", "synthetic")
REAL_DEFAULT_SIZE = 128
SYNTHETIC_DEFAULT_SIZE = 64


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--root", type=Path, help="the dataset as distributed (not for synthetic)")
    parser.add_argument("--out", type=Path, required=True, help="prepared directory to write (replaced atomically)")
    parser.add_argument("--masks", choices=MASK_MODES, default=None,
                        help="mask source (default: gt for cub, none for dogs/cars)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="DeepLabV3 weights: a torchvision state dict FILE, or the gluoncv params DIR")
    parser.add_argument("--size", type=int, default=None,
                        help=f"output side in pixels (default {REAL_DEFAULT_SIZE}; synthetic {SYNTHETIC_DEFAULT_SIZE})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-bad", action="store_true", help="skip unreadable images (counted in meta.json)")
    parser.add_argument("--workers", type=int, default=None, help="image worker processes (default: all cores)")
    parser.add_argument("--parents", type=int, default=None,
                        help="number of parents NP (default: the paper's; synthetic: 4)")
    parser.add_argument("--bg-min-fraction", type=float, default=BackgroundRule.min_side_fraction,
                        help="smallest background square kept, as a fraction of --size (source pixels)")
    parser.add_argument("--mask-input-size", type=int, default=256, help="DeepLabV3 input side")
    parser.add_argument("--mask-batch-size", type=int, default=8)
    parser.add_argument("--device", default=None, help="device of the torchvision DeepLabV3 (default: cuda if any)")
    parser.add_argument("--gluoncv-python", default=None,
                        help="python of the gluoncv environment (default: run it through `tox -e gluoncv`)")
    parser.add_argument("--no-progress", action="store_true")
    synthetic = parser.add_argument_group("synthetic dataset")
    synthetic.add_argument("--classes", type=int, default=12)
    synthetic.add_argument("--images", type=int, default=2400)


def main(args: argparse.Namespace) -> int:
    from core.locking import path_lock

    with path_lock(args.out, f"preparing {args.dataset}"):
        out = _prepare(args)
    print(summarize(load_prepared(out)))
    return 0


def _prepare(args: argparse.Namespace) -> Path:
    if args.dataset == "synthetic":
        from data_prep.synthetic import write_synthetic

        out = write_synthetic(args.out, classes=args.classes, parents=args.parents or 4, images=args.images,
                              size=args.size or SYNTHETIC_DEFAULT_SIZE, seed=args.seed)
    else:
        from data_prep.build import PrepOptions, build

        if args.root is None:
            raise UserError(f"--root is required for --dataset {args.dataset} (the dataset as distributed)")
        options = PrepOptions(
            dataset=args.dataset, root=args.root, out=args.out, masks=args.masks, weights=args.weights,
            size=args.size or REAL_DEFAULT_SIZE, seed=args.seed, skip_bad=args.skip_bad, workers=args.workers,
            parents=args.parents, mask_input_size=args.mask_input_size, mask_batch_size=args.mask_batch_size,
            device=args.device, gluoncv_python=args.gluoncv_python,
            background=BackgroundRule(min_side_fraction=args.bg_min_fraction), progress=not args.no_progress,
        )
        out = build(options)
    return Path(out)
