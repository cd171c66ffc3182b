"""Where one OneGAN training step spends its time: torch.profiler over a few steps of a preset, in
Phase I or Phase II, on CPU or a GPU.

    .venv/bin/python scripts/profile_onegan_step.py [--preset tiny] [--phase 2] [--steps 3] [--device cpu]
                                                    [--precision fp32] [--rows 25]

Prints the wall time per step, the device's busy time per step (the sum of its kernels' time: on a GPU
the gap between the two is host time the GPU waited for), and the operators with the most self time on
the host and on the device. Nothing is written; redirect the output to keep it.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from core.provenance import git_commit
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic
from onegan.config import OneGANConfig
from onegan.step_timing import seconds_per_step
from onegan.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--phase", type=int, choices=(1, 2), default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = OneGANConfig.preset(args.preset, 12, 4)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, precision=args.precision))
    iteration = 0 if args.phase == 1 else config.schedule.real_recon_start
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "synthetic"
        write_synthetic(data, classes=12, parents=4, images=max(96, 4 * config.train.batch_size),
                        size=config.model.image_size)
        trainer = Trainer(config, load_prepared(data), Path(tmp) / "run", device=device, progress=False)

        seconds_per_step(trainer, iteration, 2)  # warm-up: allocator, cuDNN/oneDNN algorithm choice
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            per_step = seconds_per_step(trainer, iteration, args.steps)
    events = prof.key_averages()
    # Kernel rows only: an operator's row also carries its kernels' time, which would count it twice.
    device_total = sum(e.self_device_time_total for e in events if e.device_type == DeviceType.CUDA) / 1e6 / args.steps
    print(f"# OneGAN step profile, {time.strftime('%Y-%m-%d %H:%M')}, commit {git_commit()}, {device}"
          f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''}, torch "
          f"{torch.__version__}, threads {torch.get_num_threads()}, preset {args.preset}, phase {args.phase}, "
          f"{args.precision}, batch {config.train.batch_size}, {args.steps} profiled steps")
    print(f"wall {per_step:.3f} s/step under the profiler; device kernels {device_total:.3f} s/step")
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(events.table(sort_by=sort, row_limit=args.rows))
    if device.type == "cuda":
        print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
