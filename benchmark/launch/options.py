"""The ``--launcher`` options of ``bench run`` and ``bench train``, and each method's resource defaults.

One job array carries one set of resources, so a grid's defaults are the largest of its methods'
defaults (``grid_resources``); every default can be overridden on the command line.
"""

from __future__ import annotations

import argparse
import shlex
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import UserError

LAUNCHERS = ("inprocess", "local", "slurm")  # (and "status": bench status plans the grid, runs nothing)


@dataclass(frozen=True)
class CellResources:
    """What one cell's job asks Slurm for."""

    gpus: int = 0
    cpus: int = 1
    mem_gb: float = 4.0
    time_min: int = 60

    def describe(self) -> str:
        return f"{self.gpus} GPU, {self.cpus} CPU, {self.mem_gb:g} GB, {self.time_min} min"


# Per method at the paper preset: the GAN trainers want a GPU and a data loader's cores; the
# training-free methods (k-means, the box) only score. Time limits are per job, not per cell: a cell
# that reaches its limit is signalled, checkpoints and is requeued (submitit), so 24 h suits the
# 20-28 h OneGAN runs as well as the shorter ones.
_GPU_TRAINER = CellResources(gpus=1, cpus=8, mem_gb=32, time_min=24 * 60)
_SCORING_ONLY = CellResources(gpus=1, cpus=4, mem_gb=16, time_min=4 * 60)
PAPER_RESOURCES: dict[str, CellResources] = {
    "onegan": _GPU_TRAINER, "finegan": _GPU_TRAINER, "stackgan": _GPU_TRAINER, "iic": _GPU_TRAINER,
    "iic-seg": _GPU_TRAINER, "redo": _GPU_TRAINER,
    "kmeans-colour": _SCORING_ONLY, "kmeans-features": _SCORING_ONLY, "centred-box": _SCORING_ONLY,
}
# The CPU presets: one core per cell (two cells on a 2-core machine run side by side).
CPU_RESOURCES = {"smoke": CellResources(gpus=0, cpus=1, mem_gb=3, time_min=30),
                 "tiny": CellResources(gpus=0, cpus=1, mem_gb=4, time_min=180)}


def method_resources(method: str, preset: str) -> CellResources:
    """The default resources of one cell of ``method`` at run preset ``preset``."""
    if preset in CPU_RESOURCES:
        return CPU_RESOURCES[preset]
    return PAPER_RESOURCES.get(method, _GPU_TRAINER)


def grid_resources(methods: list[str], preset: str) -> CellResources:
    """The largest default over the grid's methods (one job array has one set of resources)."""
    chosen = [method_resources(m, preset) for m in dict.fromkeys(methods)] or [method_resources("onegan", preset)]
    return CellResources(gpus=max(r.gpus for r in chosen), cpus=max(r.cpus for r in chosen),
                         mem_gb=max(r.mem_gb for r in chosen), time_min=max(r.time_min for r in chosen))


@dataclass(frozen=True)
class LaunchOptions:
    kind: str = "inprocess"               # inprocess | local | slurm
    partition: str | None = None          # None: the cluster's default partition
    time_min: int | None = None           # None: the grid's default (grid_resources)
    gpus: int | None = None
    cpus: int | None = None
    mem_gb: float | None = None
    parallel: int = 8                     # cells running at once (slurm_array_parallelism)
    tasks_per_node: int = 1               # processes per cell (data-parallel OneGAN), bench train
    nodes: int = 1
    sbatch: dict[str, str | bool] = field(default_factory=dict)  # extra sbatch flags (slurm_additional_parameters)
    log_dir: Path | None = None           # None: <out>/jobs
    wait: bool = True
    dry_run: bool = False
    poll_s: float = 5.0
    status_counts: Counter | None = None  # kind "status" (bench status): filled with the count per state

    def resources(self, methods: list[str], preset: str) -> CellResources:
        """The grid's defaults with the command line's overrides applied."""
        base = grid_resources(methods, preset)
        given = {k: v for k, v in (("gpus", self.gpus), ("cpus", self.cpus), ("mem_gb", self.mem_gb),
                                   ("time_min", self.time_min)) if v is not None}
        return replace(base, **given)


def parse_sbatch_flags(text: str | None) -> dict[str, str | bool]:
    """``--sbatch "--account=abc --qos high --exclusive"`` -> submitit's ``slurm_additional_parameters``
    (``{"account": "abc", "qos": "high", "exclusive": True}``)."""
    flags: dict[str, str | bool] = {}
    words = shlex.split(text or "")
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--") or word == "--":
            raise UserError(f"--sbatch takes long sbatch flags such as '--account=abc --qos=high', got {word!r}")
        key, has_value, value = word[2:].partition("=")
        if not has_value and i + 1 < len(words) and not words[i + 1].startswith("--"):
            value, has_value = words[i + 1], True
            i += 1
        flags[key.replace("-", "_")] = value if has_value else True
        i += 1
    return flags


def add_launch_arguments(parser: argparse.ArgumentParser, train: bool = False) -> None:
    group = parser.add_argument_group("launching on a cluster (docs/cluster.md)")
    group.add_argument("--launcher", choices=LAUNCHERS, default="inprocess",
                       help="inprocess (default): here, one cell after another; slurm: one job array through "
                            "submitit; local: the same jobs as local processes")
    group.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's default)")
    group.add_argument("--time-limit", type=int, default=None, metavar="MIN",
                       help="minutes per job; a job at its limit checkpoints and is requeued "
                            "(default: 24 h at the paper preset, 30 min smoke, 3 h tiny)")
    group.add_argument("--gpus", type=int, default=None, help="GPUs per task (default: 1 at the paper preset, "
                                                              "0 at smoke/tiny)")
    group.add_argument("--cpus", type=int, default=None, help="CPUs per task (default: 8 paper, 1 smoke/tiny)")
    group.add_argument("--mem", type=float, default=None, metavar="GB", help="memory per job in GB")
    group.add_argument("--parallel", type=int, default=8, metavar="N",
                       help="cells running at once (Slurm array parallelism)")
    group.add_argument("--tasks-per-node", type=int, default=1, metavar="N",
                       help="processes per job, each a data-parallel rank (OneGAN; global batch split over them)")
    group.add_argument("--nodes", type=int, default=1, help="nodes per job (data-parallel OneGAN)")
    group.add_argument("--sbatch", default=None, metavar="FLAGS",
                       help="extra sbatch flags, e.g. \"--account=abc --qos=high\"")
    group.add_argument("--log-dir", type=Path, default=None,
                       help="job logs and submitit files (default: <out>/jobs)")
    group.add_argument("--no-wait", action="store_true", help="return after submitting (follow with bench status)")
    group.add_argument("--poll-s", type=float, default=5.0, help=argparse.SUPPRESS)  # the tests poll faster
    if not train:
        group.add_argument("--dry-run", action="store_true",
                           help="print the plan: each cell, its resources and a GPU-hour estimate; submit nothing")


def launch_options(args: argparse.Namespace) -> LaunchOptions | None:
    """The options from parsed arguments; None for a plain in-process run."""
    dry_run = bool(getattr(args, "dry_run", False))
    if args.launcher == "inprocess" and not dry_run:
        return None
    for name in ("parallel", "tasks_per_node", "nodes"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.time_limit is not None and args.time_limit < 1:
        raise UserError(f"--time-limit is in minutes and must be at least 1, got {args.time_limit}")
    return LaunchOptions(kind=args.launcher, partition=args.partition, time_min=args.time_limit, gpus=args.gpus,
                         cpus=args.cpus, mem_gb=args.mem, parallel=args.parallel, tasks_per_node=args.tasks_per_node,
                         nodes=args.nodes, sbatch=parse_sbatch_flags(args.sbatch), log_dir=args.log_dir,
                         wait=not args.no_wait, dry_run=dry_run, poll_s=args.poll_s)
