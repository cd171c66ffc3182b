"""``bench prep``: prepare CUB, Stanford Dogs, Stanford Cars or the synthetic default dataset. Its options
(``PrepCommandOptions``) and the function it calls (``prepare``), which the Python API exposes too."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.cli_options import cli
from core.errors import UserError
from data_prep.backgrounds import BackgroundRule
from data_prep.masks import MASK_MODES
from data_prep.prepared import load_prepared
from data_prep.summary import summarize

DATASETS = ("cub", "dogs", "cars", "synthetic")
REAL_DEFAULT_SIZE = 128
SYNTHETIC_DEFAULT_SIZE = 64
SYNTHETIC = "synthetic dataset"  # the help section of the synthetic dataset's own options


@dataclass(frozen=True, kw_only=True)
class PrepCommandOptions:
    """What ``bench prep`` (and ``prepare``) takes; field order is the help's order."""

    dataset: str = field(metadata=cli("the dataset to prepare", choices=DATASETS))
    root: Path | None = field(default=None, metadata=cli("the dataset as distributed (not for synthetic)", type=Path))
    out: Path = field(metadata=cli("prepared directory to write (replaced atomically)", type=Path))
    masks: str | None = field(default=None, metadata=cli(
        "mask source (default: gt for cub, none for dogs/cars)", choices=MASK_MODES))
    weights: Path | None = field(default=None, metadata=cli(
        "DeepLabV3 weights: a torchvision state dict FILE, or the gluoncv params DIR", type=Path))
    size: int | None = field(default=None, metadata=cli(
        f"output side in pixels (default {REAL_DEFAULT_SIZE}; synthetic {SYNTHETIC_DEFAULT_SIZE})", type=int))
    seed: int = field(default=0, metadata=cli("random seed of the preparation", type=int))
    skip_bad: bool = field(default=False, metadata=cli("skip unreadable images (counted in meta.json)"))
    workers: int | None = field(default=None, metadata=cli("image worker processes (default: all cores)", type=int))
    parents: int | None = field(default=None, metadata=cli(
        "number of parents NP (default: the paper's; synthetic: 4)", type=int))
    bg_min_fraction: float = field(default=BackgroundRule.min_side_fraction, metadata=cli(
        "smallest background square kept, as a fraction of --size (source pixels)", type=float))
    mask_input_size: int = field(default=256, metadata=cli("DeepLabV3 input side", type=int))
    mask_batch_size: int = field(default=8, metadata=cli("DeepLabV3 batch size", type=int))
    device: str | None = field(default=None, metadata=cli(
        "device of the torchvision DeepLabV3 (default: cuda if any)"))
    gluoncv_python: str | None = field(default=None, metadata=cli(
        "python of the gluoncv environment (default: run it through `tox -e gluoncv`)"))
    progress: bool = field(default=True, metadata=cli("do not show progress bars"))
    classes: int = field(default=12, metadata=cli("NC child classes of the synthetic dataset", type=int,
                                                  section=SYNTHETIC))
    images: int = field(default=2400, metadata=cli("images of the synthetic dataset", type=int, section=SYNTHETIC))


_D = PrepCommandOptions


def prepare(dataset: str, out: str | Path, *, root: str | Path | None = _D.root, masks: str | None = _D.masks,
            weights: str | Path | None = _D.weights, size: int | None = _D.size, seed: int = _D.seed,
            skip_bad: bool = _D.skip_bad, workers: int | None = _D.workers, parents: int | None = _D.parents,
            bg_min_fraction: float = _D.bg_min_fraction, mask_input_size: int = _D.mask_input_size,
            mask_batch_size: int = _D.mask_batch_size, device: str | None = _D.device,
            gluoncv_python: str | None = _D.gluoncv_python, progress: bool = _D.progress, classes: int = _D.classes,
            images: int = _D.images) -> Path:
    """The API behind ``bench prep`` (the options of ``PrepCommandOptions``): write the prepared
    ``dataset`` to ``out`` under that folder's lock, print its summary and return its path. ``classes``
    and ``images`` are the synthetic dataset's; ``root`` and the mask options are the real datasets'."""
    from core.locking import path_lock

    with path_lock(out, f"preparing {dataset}"):
        if dataset == "synthetic":
            from data_prep.synthetic import write_synthetic

            written = write_synthetic(Path(out), classes=classes, parents=parents or 4, images=images,
                                      size=size or SYNTHETIC_DEFAULT_SIZE, seed=seed)
        else:
            from data_prep.build import PrepOptions, build

            if root is None:
                raise UserError(f"--root is required for --dataset {dataset} (the dataset as distributed)")
            written = build(PrepOptions(
                dataset=dataset, root=Path(root), out=Path(out), masks=masks,
                weights=None if weights is None else Path(weights), size=size or REAL_DEFAULT_SIZE, seed=seed,
                skip_bad=skip_bad, workers=workers, parents=parents, mask_input_size=mask_input_size,
                mask_batch_size=mask_batch_size, device=device, gluoncv_python=gluoncv_python,
                background=BackgroundRule(min_side_fraction=bg_min_fraction), progress=progress))
    print(summarize(load_prepared(written)))
    return Path(written)
