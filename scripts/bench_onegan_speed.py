"""Training speed of OneGAN: iterations/s and FLOPs per training step for the ``tiny`` and ``paper``
shapes, in Phase I (generation path only) and Phase II (all three paths), on this machine.

    .venv/bin/python scripts/bench_onegan_speed.py [--presets tiny paper] [--steps 5] [--device cpu]
    .venv/bin/python scripts/bench_onegan_speed.py --presets tiny --breakdown   # where the FLOPs go

``--breakdown`` replaces the timing by each sub-network's share of the forward convolution FLOPs of one
Phase II step (counted by hooks; independent of the machine's load, so it can run beside other work).

Appends its report to results/studies/speed/bench_onegan_speed.txt (FLOPs from torch.utils.flop_counter, which
counts matmuls/convolutions forward and backward; a multiply-add is 2 FLOPs).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from core.atomic import write_text_atomic
from core.device import pick_device
from core.provenance import git_commit
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic
from onegan.config import OneGANConfig
from onegan.step_timing import seconds_per_step
from onegan.trainer import Trainer


def measure(preset: str, steps: int, device: str, workdir: Path) -> list[str]:
    config = OneGANConfig.preset(preset, 12, 4)
    size = config.model.image_size
    data = workdir / f"synthetic_{size}"
    if not data.exists():
        write_synthetic(data, classes=12, parents=4, images=max(96, 4 * config.train.batch_size), size=size)
    prepared = load_prepared(data)
    trainer = Trainer(config, prepared, workdir / f"run_{preset}", device=device, progress=False)
    lines = []
    for phase, iteration in (("phase I", 0), ("phase II", config.schedule.real_recon_start)):
        trainer.iteration = iteration
        trainer.step()  # warm-up (allocations, cudnn autotune)
        trainer.iteration = iteration
        with FlopCounterMode(display=False) as counter:
            trainer.step()
        flops = counter.get_total_flops()
        seconds = seconds_per_step(trainer, iteration, steps)
        lines.append(f"{preset:6s} {phase:9s} {size:4d}px batch {config.train.batch_size:3d}: "
                     f"{1 / seconds:8.3f} it/s  {seconds:8.3f} s/it  {flops / 1e9:9.2f} GFLOP/step "
                     f"({flops / seconds / 1e9:7.2f} GFLOP/s)")
        print(lines[-1], flush=True)
    return lines


def conv_breakdown(preset: str, workdir: Path) -> list[str]:
    """Forward conv FLOPs of one Phase II step, per sub-network (discriminators summed over the paths)."""
    config = OneGANConfig.preset(preset, 12, 4)
    data = workdir / f"synthetic_{config.model.image_size}"
    if not data.exists():
        write_synthetic(data, classes=12, parents=4, images=max(96, 4 * config.train.batch_size),
                        size=config.model.image_size)
    trainer = Trainer(config, load_prepared(data), workdir / f"breakdown_{preset}", progress=False)
    flops: Counter[str] = Counter()

    def count(name: str):
        def hook(module: torch.nn.Conv2d, _: tuple, out: torch.Tensor) -> None:
            per_output = 2 * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            flops[name] += per_output * out.numel()
        return hook

    for root, modules in (("", trainer.model), ("D_", trainer.discriminators)):
        for name, module in modules.named_modules():
            if isinstance(module, torch.nn.Conv2d):
                parts = name.split(".")
                # model.<sub-network>; discriminators.<path>.<background|child>: summed over the paths
                key = root + (parts[0] if not root else parts[1])
                up = any(isinstance(m, torch.nn.Upsample) for m in modules.get_submodule(
                    ".".join(parts[:-1])).children()) if len(parts) > 1 else False
                module.register_forward_hook(count(key + (" (upsample+conv)" if up else "")))
    trainer.iteration = config.schedule.real_recon_start
    trainer.step()
    total = sum(flops.values())
    lines = [f"{preset}: forward conv FLOPs of one Phase II step: {total / 1e9:.2f} GFLOP"]
    lines += [f"  {v / 1e9:7.3f} GFLOP {100 * v / total:5.1f}%  {k}" for k, v in flops.most_common()]
    print("\n".join(lines), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "paper"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default=str(pick_device()))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("results/studies/speed/bench_onegan_speed.txt"))
    parser.add_argument("--breakdown", action="store_true", help="FLOP shares per sub-network instead of timing")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    header = (f"# OneGAN training speed, {time.strftime('%Y-%m-%d %H:%M')}, commit {git_commit()}, device "
              f"{args.device} ({device_name}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
              f"{args.steps} timed steps")
    print(header)
    lines = [header]
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            lines += (conv_breakdown(preset, Path(tmp)) if args.breakdown
                      else measure(preset, args.steps, args.device, Path(tmp)))
    previous = args.out.read_text() if args.out.exists() else ""
    write_text_atomic(args.out, previous + "\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
