"""Launching work as submitit jobs (Slurm, or local processes): the ``--launcher`` options shared by
``bench run`` and ``bench train``, the checks that Slurm can take a job, the executor and the
job-array submission.

Every Slurm failure a user meets before a job runs becomes one ``UserError`` line: client commands
missing, a controller that does not answer, an unknown partition, sbatch refusing the array.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import submitit

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


@dataclass(frozen=True)
class LaunchOptions:
    kind: str = "inprocess"               # inprocess | local | slurm
    partition: str | None = None          # None: the cluster's default partition
    time_min: int | None = None           # None: the grid's default (grid_resources)
    gpus: int | None = None
    cpus: int | None = None
    mem_gb: float | None = None
    parallel: int = 8                     # cells running at once (slurm_array_parallelism)
    cells_per_job: int = 1                # bench run: cells one array task runs one after another
    tasks_per_node: int = 1               # processes per cell (data-parallel OneGAN), bench train
    nodes: int = 1
    sbatch: dict[str, str | bool] = field(default_factory=dict)  # extra sbatch flags (slurm_additional_parameters)
    log_dir: Path | None = None           # None: <out>/jobs
    wait: bool = True
    dry_run: bool = False
    poll_s: float = 5.0
    status_counts: Counter | None = None  # kind "status" (bench status): filled with the count per state

    def with_defaults(self, base: CellResources) -> CellResources:
        """``base`` (a method's or grid's defaults) with the command line's overrides applied."""
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
                       help="inprocess (default): in this process; slurm: Slurm jobs through submitit (bench run: "
                            "one job array of the grid's cells); local: the same jobs as local processes")
    group.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's default)")
    group.add_argument("--time-limit", type=int, default=None, metavar="MIN",
                       help="minutes per job; a job at its limit checkpoints and is requeued "
                            "(default: 24 h at the paper preset, 30 min smoke, 3 h tiny)")
    group.add_argument("--gpus", type=int, default=None, help="GPUs per task (default: 1 at the paper preset, "
                                                              "0 at smoke/tiny)")
    group.add_argument("--cpus", type=int, default=None, help="CPUs per task (default: 8 paper, 1 smoke/tiny)")
    group.add_argument("--mem", type=float, default=None, metavar="GB", help="memory per job in GB")
    group.add_argument("--tasks-per-node", type=int, default=1, metavar="N",
                       help="processes per node, each a data-parallel rank of OneGAN's training (the global batch "
                            "is split over them)" + ("" if train else "; other methods use rank 0 only"))
    group.add_argument("--nodes", type=int, default=1, help="nodes per job")
    if not train:
        group.add_argument("--parallel", type=int, default=8, metavar="N",
                           help="cells running at once (Slurm array parallelism; local: every cell at once)")
    if not train:
        group.add_argument("--cells-per-job", type=int, default=1, metavar="K",
                           help="bench run: each array task runs up to K cells one after another (balanced by "
                                "their measured durations), paying the job start once: for grids of short cells "
                                "(smoke, tiny); default 1")
    group.add_argument("--sbatch", default=None, metavar="FLAGS",
                       help="extra sbatch flags, attached with =: --sbatch=\"--account=abc --qos=high\"")
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
    for name in ("parallel", "tasks_per_node", "nodes", "cells_per_job"):
        if getattr(args, name, 1) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.time_limit is not None and args.time_limit < 1:
        raise UserError(f"--time-limit is in minutes and must be at least 1, got {args.time_limit}")
    return LaunchOptions(kind=args.launcher, partition=args.partition, time_min=args.time_limit, gpus=args.gpus,
                         cpus=args.cpus, mem_gb=args.mem, parallel=getattr(args, "parallel", 1),
                         cells_per_job=getattr(args, "cells_per_job", 1),
                         tasks_per_node=getattr(args, "tasks_per_node", 1), nodes=getattr(args, "nodes", 1),
                         sbatch=parse_sbatch_flags(args.sbatch), log_dir=args.log_dir,
                         wait=not args.no_wait, dry_run=dry_run, poll_s=args.poll_s)


def slurm_jobs() -> dict[str, str]:
    """Every job (array tasks one by one) the Slurm controller knows: id -> state (PENDING, RUNNING, ...).
    A UserError when ``squeue`` is missing or the controller does not answer."""
    try:
        done = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise UserError("squeue not found: Slurm's client commands are not installed on this machine "
                        "(--launcher local runs the same jobs as local processes)") from None
    except subprocess.TimeoutExpired:
        raise UserError("squeue did not answer in 60 s: the Slurm controller is overloaded or down") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise UserError(f"Slurm does not answer (squeue: {lines[-1] if lines else done.returncode}); is slurmctld "
                        "running? (.ci/slurm-up.sh starts a one-node cluster)")
    jobs = {}
    for line in done.stdout.splitlines():
        job, _, state = line.strip().partition("|")
        if job:
            jobs[job] = state
    return jobs


def check_partition(partition: str) -> None:
    """A UserError naming the partitions there are when Slurm has no ``partition``."""
    import subprocess

    known = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=60).stdout.split()
    if partition not in known:
        raise UserError(f"Slurm has no partition {partition!r}; there are: {', '.join(known) or 'none'}")


def preflight(options: LaunchOptions) -> None:
    """Before anything is prepared or trained: Slurm's commands are there, the controller answers and
    the partition exists (nothing to check for the local launcher)."""
    if options.kind != "slurm":
        return
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        raise UserError("sbatch/squeue not found on PATH: Slurm's client commands are not installed here "
                        "(--launcher local runs the same jobs as local processes)")
    slurm_jobs()  # a controller that does not answer fails here, in one line
    if options.partition:
        check_partition(options.partition)


def make_executor(kind: str, folder: Path, resources: CellResources, options: LaunchOptions,
                  name: str) -> submitit.AutoExecutor:
    """submitit's executor for ``kind`` (slurm / local) with the cells' resources."""
    if kind == "slurm" and shutil.which("sbatch") is None:
        raise UserError("sbatch not found on PATH: Slurm's client commands are not installed here "
                        "(--launcher local runs the same jobs as local processes)")
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=kind)
    params: dict = {"timeout_min": resources.time_min, "gpus_per_node": resources.gpus * options.tasks_per_node,
                    "tasks_per_node": options.tasks_per_node, "nodes": options.nodes, "name": name}
    if kind == "slurm":
        params.update(cpus_per_task=resources.cpus, mem_gb=resources.mem_gb,
                      slurm_array_parallelism=options.parallel)
        if options.partition:
            params["slurm_partition"] = options.partition
        if options.sbatch:
            params["slurm_additional_parameters"] = dict(options.sbatch)
    executor.update_parameters(**params)
    return executor


def submit_jobs(executor: submitit.AutoExecutor, callables: list) -> list[submitit.Job]:
    """Submit the callables as one job array; Slurm's refusal becomes one line."""
    try:
        with executor.batch():
            jobs = [executor.submit(c) for c in callables]
    except Exception as err:  # submitit raises its own FailedJobError / subprocess errors with sbatch's text
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        said = next((ln for ln in lines if "error" in ln.lower() and "sbatch" in ln.lower()),
                    lines[-1] if lines else "")
        raise UserError(f"the job array was refused: {said[:300]}") from None
    return jobs


