"""OneGAN data-parallel training on CPU (gloo): collectives per step, and the step time of 2 processes
against 1 process at the same global batch.

    .venv/bin/python scripts/bench_onegan_ddp.py [--preset tiny] [--rounds 3] [--steps 4]

Each configuration runs in fresh processes (torchrun for 2), builds the trainer, warms up, then times
``--steps`` steps in Phase I (generation path) and Phase II (all three paths) and counts every
``all_reduce``/``broadcast`` issued during them. Configurations run in interleaved rounds: 1 process
× 1 thread, 1 process × 2 threads, 2 processes × 1 thread (the last two use the same 2 cores). The
per-tensor count is what averaging one tensor at a time (with a finiteness check per optimiser step)
would issue. On a shared, loaded 2-core machine only ratios within one run mean anything. Also prints
the bucket counts of the ``paper`` preset (built on the meta device, nothing trained). Appends its
report to results/studies/speed/bench_onegan_ddp.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def worker(data: Path, out: Path, preset: str, steps: int) -> None:
    """One process of one configuration: prints a JSON line (rank 0) with timings and collective counts."""
    import torch.distributed as dist

    from data_prep.prepared import load_prepared
    from onegan.config import OneGANConfig
    from onegan.distributed import barrier, init_from_environment, shutdown
    from onegan.trainer import Trainer

    counts = {"all_reduce": 0, "broadcast": 0}

    def counting(name: str):
        original = getattr(dist, name)

        def wrapped(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)
        return wrapped
    for name in counts:
        setattr(dist, name, counting(name))

    group = init_from_environment(torch.device("cpu"))
    prepared = load_prepared(data)
    config = OneGANConfig.preset(preset, prepared.num_classes, prepared.num_parents)
    trainer = Trainer(config, prepared, out, seed=0, group=group, progress=False)
    result = {"world_size": group.world_size, "threads": torch.get_num_threads(),
              "global_batch": config.train.batch_size, "local_batch": trainer.local_batch}
    for phase, iteration in (("phase I", 0), ("phase II", config.schedule.real_recon_start)):
        trainer.iteration = iteration
        trainer.step()  # warm-up
        grads = sum(p.grad is not None for p in trainer.model.parameters())
        grads += sum(p.grad is not None for p in trainer.discriminators.parameters())
        barrier(group)
        counts.update(all_reduce=0, broadcast=0)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.iteration = iteration
            trainer.step()
        barrier(group)
        seconds = (time.perf_counter() - start) / steps
        result[phase] = {"seconds_per_step": seconds, "collectives_per_step": counts["all_reduce"] / steps,
                         "per_tensor_collectives_per_step": grads + 2}
    if group.is_main:
        print("RESULT " + json.dumps(result), flush=True)
    shutdown(group)


def _run(config: str, data: Path, out: Path, preset: str, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = [str(Path(__file__).resolve()), "--worker", str(data), str(out), "--preset", preset, "--steps",
              str(steps)]
    if config == "2 processes x 1 thread":
        env["OMP_NUM_THREADS"] = "1"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *script]
    else:
        env["OMP_NUM_THREADS"] = "2" if "2 threads" in config else "1"
        cmd = [sys.executable, *script]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"{config} failed:\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def paper_buckets() -> list[str]:
    """Collectives per step at the paper preset: flat buckets vs one per gradient tensor."""
    from onegan.config import OneGANConfig
    from onegan.distributed import BUCKET_BYTES, _buckets
    from onegan.model import OneGANModel
    from onegan.networks.discriminators import DiscriminatorPair

    config = OneGANConfig.preset("paper", 200, 20)
    with torch.device("meta"):
        model = OneGANModel(config.model)
        pair = DiscriminatorPair(config.model)
    lines = []
    for phase, paths in (("phase I", 1), ("phase II", 3)):
        d_params = [p for _ in range(paths) for p in pair.parameters()]
        model_params = list(model.parameters())
        buckets = len(_buckets(d_params, BUCKET_BYTES)) + len(_buckets(model_params, BUCKET_BYTES))
        megabytes = 4 * (sum(p.numel() for p in d_params) + sum(p.numel() for p in model_params)) / 1e6
        lines.append(f"paper preset {phase}: at most {buckets} all_reduce per step ({megabytes:.0f} MB of "
                     f"float32 gradients in {BUCKET_BYTES // 2 ** 20} MB buckets) against "
                     f"{len(d_params) + len(model_params) + 2} one tensor at a time")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, type=Path, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "results/studies/speed/bench_onegan_ddp.txt")
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.preset, args.steps)
        return

    from core.atomic import write_text_atomic
    from core.provenance import git_commit
    from data_prep.synthetic import write_synthetic
    from onegan.config import OneGANConfig

    header = (f"# OneGAN data-parallel (gloo, CPU), {time.strftime('%Y-%m-%d %H:%M')}, commit {git_commit()}, "
              f"{platform.processor() or platform.machine()} with {os.cpu_count()} cores (shared with other "
              f"jobs: only the ratios within this run mean anything), torch {torch.__version__}, preset "
              f"{args.preset}, {args.rounds} interleaved rounds of {args.steps} timed steps per phase")
    print(header, flush=True)
    lines = [header]
    configs = ("1 process x 1 thread", "1 process x 2 threads", "2 processes x 1 thread")
    results: dict[str, list[dict]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        config = OneGANConfig.preset(args.preset, 12, 4)
        data = Path(tmp) / "synthetic"
        write_synthetic(data, classes=12, parents=4, images=max(96, 4 * config.train.batch_size),
                        size=config.model.image_size)
        for round_index in range(args.rounds):
            for name in configs:
                results[name].append(_run(name, data, Path(tmp) / f"run{round_index}", args.preset, args.steps))
                print(f"round {round_index} {name}: " + json.dumps(results[name][-1]), flush=True)
    for phase in ("phase I", "phase II"):
        median = {c: statistics.median(r[phase]["seconds_per_step"] for r in results[c]) for c in configs}
        two = results["2 processes x 1 thread"][0][phase]
        lines.append(f"{args.preset} {phase}, global batch {results[configs[0]][0]['global_batch']}:")
        for c in configs:
            rounds = ", ".join(f"{r[phase]['seconds_per_step']:.3f}" for r in results[c])
            lines.append(f"  {c:24s} median {median[c]:.3f} s/step (rounds: {rounds})")
        lines.append(f"  2 processes / 1 process x 1 thread step time: "
                     f"{median['2 processes x 1 thread'] / median['1 process x 1 thread']:.2f}; "
                     f"2 processes / 1 process x 2 threads: "
                     f"{median['2 processes x 1 thread'] / median['1 process x 2 threads']:.2f}")
        lines.append(f"  collectives per step with 2 processes: {two['collectives_per_step']:.0f} all_reduce "
                     f"(one tensor at a time: {two['per_tensor_collectives_per_step']})")
    lines += paper_buckets()
    print("\n".join(lines[1:]), flush=True)
    previous = args.out.read_text() if args.out.exists() else ""
    write_text_atomic(args.out, previous + "\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
