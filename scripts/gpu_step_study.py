"""The GPU step levers (issue 25, docs/performance-gpu.md) measured side by side in one run: today's
step against the fused LNorm, the NCHW layout, CUDA graphs and their combination, at a preset
(``paper`` by default), in Phase I and Phase II, with each path's kernel time over its step time.

    .venv/bin/python scripts/gpu_step_study.py --device cuda                  # on a lent GPU (~3-5 min)
    .venv/bin/python scripts/gpu_step_study.py --device cpu --preset smoke    # CPU smoke: proves it runs

It joins ``scripts/bench_onegan_paths.py`` (interleaved rounds of a few steps per path, so that other
load hits all paths alike; ratios are medians of per-round ratios) and ``scripts/profile_onegan_step.py``
(torch.profiler: the sum of the device's kernel times per step, and the host's kernel launches per
step). It first checks, on the device itself, that the new paths compute today's function:
FusedLayerNorm against GroupNorm at the paper's LNorm shapes (forward and backward, and each one's time
per call), and the captured step against the eager one over the first steps of a run.

On CPU nothing can be captured: the ``graphs`` paths run the graph-ready step (static buffers,
draws made outside the step) eagerly, and the kernel columns are empty. A CPU run is a smoke test of
the script, not a measurement, and its report says so in its first line.

Writes ``<out-dir>/<label>.txt`` (the report) and ``<out-dir>/<label>.jsonl`` (one row per path and
phase), label ``cpu_smoke_<preset>`` or ``<gpu>_<preset>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from core.atomic import write_text_atomic
from core.provenance import git_commit
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic
from onegan.config import OneGANConfig
from onegan.networks.layer_norm import FusedLayerNorm
from onegan.step_capture import CapturedStep
from onegan.step_timing import seconds_per_step, synchronize
from onegan.trainer import Trainer

OLD = "old"
# name -> PerformanceConfig switches (on top of the defaults: channels_last on, the rest off)
PATHS: dict[str, dict[str, bool]] = {
    OLD: {},
    "fused-lnorm": {"fused_layer_norm": True},
    "fused-lnorm nchw": {"fused_layer_norm": True, "channels_last": False},
    "graphs": {"cuda_graphs": True},
    "fused-lnorm+graphs": {"fused_layer_norm": True, "cuda_graphs": True},
}
# Warm-up steps per path and phase: the graph paths record the draw plan (1 step), warm up (2) and
# capture (1) before they replay; every path then has its algorithms chosen and its memory cached.
WARMUP_STEPS = 5
LAUNCH_CALLS = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cudaGraphLaunch")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def _label(device: torch.device, preset: str) -> str:
    if device.type != "cuda":
        return f"cpu_smoke_{preset}"
    return re.sub(r"[^a-z0-9]+", "_", _device_name(device).lower()).strip("_") + f"_{preset}"


def build_trainer(name: str, config: OneGANConfig, prepared, out: Path, device: torch.device) -> Trainer:
    """The trainer of path ``name``; on CPU a graphs path is the graph-ready step without capture."""
    switches = dict(PATHS[name])
    graphs = switches.pop("cuda_graphs", False)
    capture = graphs and device.type == "cuda"
    trainer = Trainer(config.with_performance(**switches, cuda_graphs=capture), prepared, out, seed=0,
                      device=device, progress=False)
    if graphs and not capture:
        trainer.captured_step = CapturedStep(trainer, capture=False)
    return trainer


def lnorm_check(device: torch.device, batch: int, shapes: list[tuple[int, int, int]], repeats: int,
                bf16: bool = False) -> list[str]:
    """FusedLayerNorm against GroupNorm(1, C) on ``device``: largest relative differences of y, dx, dγ, dβ
    (channels_last inputs, as the trainer's) and each one's forward+backward time per call. ``bf16``:
    bfloat16 inputs under bfloat16 autocast, as a convolution's output reaches LNorm in a bf16 run."""
    lines = []
    for channels, height, width in shapes:
        torch.manual_seed(0)
        group_norm = nn.GroupNorm(1, channels).to(device)
        with torch.no_grad():
            group_norm.weight.uniform_(0.5, 1.5)
            group_norm.bias.uniform_(-1, 1)
        fused = FusedLayerNorm.from_group_norm(group_norm)
        x = (torch.randn(batch, channels, height, width, device=device) * 2 + 1).contiguous(
            memory_format=torch.channels_last).to(torch.bfloat16 if bf16 else torch.float32)
        grad_out = torch.randn(x.shape, device=device)
        results, seconds = [], []
        for module in (group_norm, fused):
            leaf = x.detach().clone().requires_grad_(True)

            def forward(module=module, leaf=leaf, grad_out=grad_out):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    y = module(leaf)
                return y, grad_out.to(y.dtype)

            y, grad = forward()
            results.append((y, *torch.autograd.grad(y, [leaf, module.weight, module.bias], grad)))
            for _ in range(3):  # warm-up
                y, grad = forward()
                y.backward(grad)
            synchronize(device)
            start = time.perf_counter()
            for _ in range(repeats):
                y, grad = forward()
                y.backward(grad)
            synchronize(device)
            seconds.append((time.perf_counter() - start) / repeats)
        # Relative to the largest GroupNorm value: dγ, dβ are sums over N·H·W terms.
        diffs = ", ".join(f"{name} {((a.float() - b.float()).abs().max() / b.float().abs().max()).item():.1e}"
                          for name, b, a in zip(("y", "dx", "dgamma", "dbeta"), *results, strict=True))
        lines.append(f"  LNorm ({batch}, {channels}, {height}, {width}) channels_last{' bf16' if bf16 else ''}: "
                     f"max |fused - GroupNorm| / max |GroupNorm| "
                     f"{diffs}; forward+backward {1e6 * seconds[0]:.0f} us GroupNorm, {1e6 * seconds[1]:.0f} us "
                     f"fused ({seconds[0] / seconds[1]:.2f}x)")
    return lines


def graph_check(config: OneGANConfig, prepared, tmp: Path, device: torch.device, steps: int) -> list[str]:
    """``steps`` consecutive steps from the start of Phase I and of Phase II (all three paths), eager
    fused-lnorm against fused-lnorm+graphs from the same weights: the largest relative difference of
    any logged loss (0 on CPU, where the graph-ready step is bit for bit the plain one)."""
    lines = []
    for phase, start in (("phase I", 0), ("phase II", config.schedule.real_recon_start)):
        eager = build_trainer("fused-lnorm", config, prepared, tmp / "check_eager", device)
        graphed = build_trainer("fused-lnorm+graphs", config, prepared, tmp / "check_graphed", device)
        eager.iteration = graphed.iteration = start
        worst, replayed = 0.0, 0
        for _ in range(steps):
            a, b = eager.step(), graphed.step()
            replayed += int(graphed.captured_step is not None and graphed.captured_step.captured)
            for key, value in a.items():
                scale = max(abs(float(value)), 1e-6)
                worst = max(worst, abs(float(value) - float(b[key])) / scale)
        del eager, graphed
        lines.append(f"  captured step vs eager (fused-lnorm), {steps} steps from the start of {phase}: largest "
                     f"relative loss difference {worst:.2e}; {replayed} of them replayed a graph")
    return lines


def profile_path(trainer: Trainer, iteration: int, steps: int) -> tuple[float, float | None, float | None]:
    """(wall s/step under the profiler, device kernel s/step, host launches per step; None on CPU)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if trainer.device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        wall = seconds_per_step(trainer, iteration, steps)
    events = prof.key_averages()
    if trainer.device.type != "cuda":
        return wall, None, None
    launches = sum(e.count for e in events if e.key in LAUNCH_CALLS) / steps
    # Kernel rows only: an operator's row also carries its kernels' time, which would count it twice.
    kernels = sum(e.self_device_time_total for e in events if e.device_type == DeviceType.CUDA) / 1e6 / steps
    return wall, kernels, launches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed block")
    parser.add_argument("--profile-steps", type=int, default=3)
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma list of {', '.join(PATHS)}")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out-dir", type=Path, default=Path("results/studies/gpu_step"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = [n.strip() for n in args.paths.split(",") if n.strip()]
    if OLD not in names or any(n not in PATHS for n in names):
        parser.error(f"--paths must include {OLD!r} and name only {', '.join(PATHS)}")
    label = _label(device, args.preset)
    smoke = device.type != "cuda"
    lines = []
    if smoke:
        lines.append("# CPU SMOKE RUN: proves scripts/gpu_step_study.py runs end to end; NOT a measurement of "
                     "the GPU levers (no kernels, no graphs: the graphs paths run the graph-ready step eagerly)")
    lines.append(f"# GPU step study, {time.strftime('%Y-%m-%d %H:%M')}, commit {git_commit()}, {device} "
                 f"({_device_name(device)}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
                 f"preset {args.preset}, {args.precision}, {args.rounds} interleaved rounds of {args.steps} steps "
                 f"per path and phase after {WARMUP_STEPS} warm-up steps, {args.profile_steps} profiled steps; "
                 f"TF32 convolutions {'on' if torch.backends.cudnn.allow_tf32 else 'off'}, cudnn.benchmark "
                 f"{'on' if torch.backends.cudnn.benchmark else 'off'}")
    print("\n".join(lines), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = OneGANConfig.preset(args.preset, 12, 4)
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, precision=args.precision))
        data = tmp / "synthetic"
        write_synthetic(data, classes=12, parents=4, images=max(96, 4 * config.train.batch_size),
                        size=config.model.image_size)
        prepared = load_prepared(data)

        lines.append("checks (the new paths compute today's function on this device):")
        ngf, size, batch = config.model.ngf, config.model.image_size, config.train.batch_size
        # LNorm's widths and sizes in the networks: the code-joining stage, the pre-images, the last stages.
        lnorm_shapes = [(ngf * 8, 8, 8), (ngf * 2, size // 4, size // 4), (ngf, size // 2, size // 2),
                        (ngf, size, size)]
        lines += lnorm_check(device, batch, lnorm_shapes, repeats=5 if smoke else 20,
                             bf16=args.precision == "bf16")
        lines += graph_check(config, prepared, tmp, device, steps=6)
        print("\n".join(lines[-len(lnorm_shapes) - 3:]), flush=True)

        trainers = {name: build_trainer(name, config, prepared, tmp / name.replace(" ", "_"), device)
                    for name in names}
        for phase, iteration in (("phase I", 0), ("phase II", config.schedule.real_recon_start)):
            for trainer in trainers.values():
                seconds_per_step(trainer, iteration, WARMUP_STEPS)
            seconds: dict[str, list[float]] = {name: [] for name in trainers}
            for _ in range(args.rounds):
                for name, trainer in trainers.items():
                    seconds[name].append(seconds_per_step(trainer, iteration, args.steps))
            lines.append(f"{args.preset} {phase}, batch {batch}:")
            for name, trainer in trainers.items():
                wall = statistics.median(seconds[name])
                ratios = [o / n for n, o in zip(seconds[name], seconds[OLD], strict=True)]
                profiled_wall, kernels, launches = profile_path(trainer, iteration, args.profile_steps)
                captured = trainer.captured_step is not None and trainer.captured_step.captured
                row = {"label": label, "smoke": smoke, "preset": args.preset, "precision": args.precision,
                       "phase": phase, "path": name, "switches": PATHS[name], "captured": captured,
                       "it_per_s": 1 / wall, "speedup_vs_old": statistics.median(ratios),
                       "kernel_s_per_step": kernels, "kernel_share": None if kernels is None else kernels / wall,
                       "profiled_s_per_step": profiled_wall, "launches_per_step": launches}
                rows.append(row)
                kernel_text = ("kernels and launches n/a on CPU" if kernels is None or launches is None else
                               f"kernels {kernels:.3f} s/step = {100 * kernels / wall:.0f}% of the step; "
                               f"{launches:.0f} launches/step{' (graph replayed)' if captured else ''}")
                lines.append(f"  {name:<20} {1 / wall:7.2f} it/s  x{row['speedup_vs_old']:.2f} vs old (per round: "
                             f"{', '.join(f'{r:.2f}' for r in ratios)}); {kernel_text}")
            print("\n".join(lines[-len(trainers) - 1:]), flush=True)
        if device.type == "cuda":
            lines.append(f"peak GPU memory allocated (all paths together): "
                         f"{torch.cuda.max_memory_allocated(device) / 2 ** 30:.1f} GiB")
    lines.append("targets (issue 25): phase II x2 or more vs old; kernels >= 80% of the step")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out_dir / f"{label}.txt", "\n".join(lines) + "\n")
    write_text_atomic(args.out_dir / f"{label}.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    print(f"wrote {args.out_dir / label}.txt and .jsonl", flush=True)


if __name__ == "__main__":
    main()
