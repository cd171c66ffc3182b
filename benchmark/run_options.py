"""``bench run``'s options, declared once: the dataclass ``RunOptions`` gives the parser of ``bench run``
(``core.cli_options``) and the defaults of the Python API ``benchmark.run.run``, whose keyword
arguments are these fields (a test holds the two equal); ``bench run`` calls that same function."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark import protocols
from benchmark.methods import METHODS
from benchmark.metric_registry import TASKS
from benchmark.presets import PRESETS
from core.cli_options import cli
from core.errors import UserError
from core.launching import LaunchOptions, add_launch_arguments, launch_options
from onegan.config import ABLATION_ROWS
from onegan.config import PRESETS as ONEGAN_PRESETS

ALL_TASKS = TASKS  # generation, segmentation, clustering
# Table 3 and the ablation rows of Tables 1-2, in the paper's order (declared in onegan.config).
ABLATION_VARIANTS = tuple(row.name for row in ABLATION_ROWS)
ABLATION_REFERENCE = "reference"  # unablated OneGAN trained with the ablations' budget


def parse_checkpoints(items: list[str] | None) -> dict[str, Path]:
    """``--checkpoint METHOD=PATH`` items (the option repeats) as {method: path}."""
    checkpoints = {}
    for item in items or ():
        if "=" not in item:
            raise UserError(f"--checkpoint takes METHOD=PATH, got {item!r}")
        key, value = item.split("=", 1)
        checkpoints[key] = Path(value)
    return checkpoints


@dataclass(frozen=True)
class RunOptions:
    """What ``bench run`` (and ``benchmark.run.run``) takes; field order is the help's order."""

    task: str = field(default="all", metadata=cli(
        "all (default): generation, segmentation and clustering, each for the methods that can do it (Table 3 "
        "too only with --ablations or --ablation-preset); ablation: Table 3's variants",
        choices=[*ALL_TASKS, "ablation", "all"]))
    dataset: str = field(default="synthetic", metadata=cli("a prepared directory, or 'synthetic' (default)"))
    methods: str | None = field(default=None, metadata=cli(
        f"comma list of {', '.join(METHODS)} and external methods, in any mix: "
        "external:name=NAME,masks=DIR,clusters=FILE,images=DIR (its key=value pairs stay together; see "
        "docs/external-methods.md); all: every built-in method. Default: every method but JULE, DEPICT, WNet and "
        "UISB, which run by name (or with all) to keep the demo short"))
    preset: str = field(default="tiny", metadata=cli(
        "the run's scale (benchmark/presets.py): smoke (CI, minutes; scores at most 200 images per task), tiny "
        "(the CPU demo, default), paper (600k iterations, a GPU)", choices=list(PRESETS)))
    ablation_preset: str | None = field(default=None, metadata=cli(
        "train Table 3's ablation variants at this OneGAN preset's full budget (default: the run preset's: smoke "
        "trains them for 30 iterations, tiny and paper at their full budget); asks --task all for Table 3",
        choices=[name for name in PRESETS if name in ONEGAN_PRESETS]))  # OneGAN's presets, in the run's order
    seeds: str = field(default="0", metadata=cli("comma list; tables report mean ± std over seeds"))
    out: str | Path = field(default="results/latest", metadata=cli(
        "a folder: records.jsonl and figures/ go there"))
    work: str | Path = field(default="runs", metadata=cli("prepared data, checkpoints, evaluator, caches"))
    force: bool = field(default=False, metadata=cli("recompute cells already recorded"))
    device: str | None = field(default=None, metadata=cli(
        "torch device (default: cuda when available, else cpu)"))
    evaluator: str | Path | None = field(default=None, metadata=cli(
        "evaluator checkpoint (default: train one)"))
    checkpoints: dict[str, Path] | None = field(default=None, metadata=cli(
        "use this checkpoint instead of training METHOD (a trained method in --methods)",
        flag="--checkpoint", metavar="METHOD=PATH", repeat=True, parse=parse_checkpoints))
    inception_weights: str | Path | None = field(default=None, metadata=cli(
        "also score FID/CFID with the standard FID InceptionV3 (weights-inception-2015-12-05-6726825d.pth; or "
        "env ONEGAN_INCEPTION_WEIGHTS)", metavar="FILE", env="ONEGAN_INCEPTION_WEIGHTS"))
    protocol: str = field(default=protocols.DEFAULT, metadata=cli(
        "score under this paper's conventions (see `bench protocols`)", choices=protocols.names()))
    ablations: str | None = field(default=None, metadata=cli(
        f"Table 3 rows to train and score: all, or a comma list of reference, {', '.join(ABLATION_VARIANTS)}. "
        "--task all includes Table 3 only when this (or --ablation-preset) is given; --task ablation defaults "
        "to all. Processes on different rows may share --out", metavar="ROWS"))
    figures: bool = field(default=True, metadata=cli("do not draw the PNG figures under --out/figures"))
    launcher: LaunchOptions | None = field(default=None, metadata=cli(
        "run the cells as Slurm or local jobs (docs/cluster.md); None: one after another in this process",
        group=(add_launch_arguments, launch_options)))


DEFAULTS = RunOptions()
