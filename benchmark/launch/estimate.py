"""GPU-hours of a OneGAN cell for ``bench run --dry-run``: the model card's FLOPs per training step
of each phase (``onegan.model_card.training_flops``) over the throughput measured on an H100
(``results/studies/speed/bench_onegan_speed_paper_h100.txt``: GFLOP/s of phase I and of phase II at the paper
preset), summed over the schedule's iterations in each phase.

At the paper preset the measured file's own GFLOP/step is the card's count at the batch it ran (20);
other presets count their FLOPs here (a few CPU steps). The other methods have no measured throughput
in the repository: they get no estimate (``None``), and the plan says so instead of guessing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

SPEED_FILE = Path(__file__).resolve().parents[2] / "results" / "studies" / "speed" / "bench_onegan_speed_paper_h100.txt"
_LINE = re.compile(r"^(?P<preset>\w+)\s+phase (?P<phase>I+)\s+(?P<px>\d+)px batch\s+(?P<batch>\d+):.*?"
                   r"(?P<gflop>[\d.]+) GFLOP/step \((?P<rate>[\d.]+) GFLOP/s\)")


@dataclass(frozen=True)
class MeasuredSpeed:
    gflop_per_step: dict[str, float]   # "I" / "II" -> GFLOP per training step at `batch`
    gflop_per_s: dict[str, float]      # "I" / "II" -> measured GFLOP/s
    batch: int
    device: str


@functools.cache
def measured_speed(path: Path = SPEED_FILE) -> MeasuredSpeed | None:
    """The committed H100 measurement, None when the file is not there (an installed wheel)."""
    if not path.is_file():
        return None
    flops, rates, batch = {}, {}, 0
    device = "H100"
    for line in path.read_text().splitlines():
        if "device cuda (" in line:
            device = line.split("device cuda (", 1)[1].split(")", 1)[0]
        match = _LINE.match(line)
        if match and match["preset"] == "paper":
            flops[match["phase"]], rates[match["phase"]] = float(match["gflop"]), float(match["rate"])
            batch = int(match["batch"])
    return MeasuredSpeed(flops, rates, batch, device) if {"I", "II"} <= rates.keys() else None


@functools.cache
def _card_gflop_per_step(preset: str, ablation: str | None, iterations: int | None) -> dict[str, float]:
    """GFLOP per step of each card phase (phase1, phase2_fake, phase2_real) of the OneGAN config."""
    from onegan.model_card import training_flops

    config = _config(preset, ablation, iterations)
    return {phase: flops / 1e9 for phase, flops in training_flops(config).items() if flops is not None}


def _config(preset: str, ablation: str | None, iterations: int | None):
    from onegan.config import OneGANConfig

    config = OneGANConfig.preset(preset, 200, 20)  # class counts change the FLOPs by well under 1 %
    if iterations is not None:
        config = config.with_iterations(iterations)
    return config.with_ablation(ablation)


def onegan_gpu_hours(preset: str, ablation: str | None, iterations: int | None) -> float | None:
    """Estimated GPU-hours (on the measured GPU) of training one OneGAN cell; None without a measurement."""
    from onegan.schedule import PhaseSchedule

    speed = measured_speed()
    if speed is None:
        return None
    config = _config(preset, ablation, iterations)
    schedule = PhaseSchedule(config.schedule)
    total = config.schedule.iterations
    fake = total if schedule.fake_start is None else min(schedule.fake_start, total)
    real = total if schedule.real_start is None else min(max(schedule.real_start, fake), total)
    spans = {"phase1": fake, "phase2_fake": real - fake, "phase2_real": total - real}
    if preset == "paper" and config.train.batch_size == speed.batch:
        # the measured file's own counts: phase I, and phase II with every path (an upper bound for 2_fake);
        # an ablation variant takes its own phase spans but the unablated step's FLOPs (counting 13
        # variants' paper-size steps on a CPU would take minutes for a difference of a few per cent)
        per_step = {"phase1": speed.gflop_per_step["I"], "phase2_fake": speed.gflop_per_step["II"],
                    "phase2_real": speed.gflop_per_step["II"]}
    else:
        per_step = _card_gflop_per_step(preset, ablation, iterations)
    rate = {"phase1": speed.gflop_per_s["I"], "phase2_fake": speed.gflop_per_s["II"],
            "phase2_real": speed.gflop_per_s["II"]}
    seconds = sum(n * per_step.get(phase, per_step.get("phase2_real", 0.0)) / rate[phase]
                  for phase, n in spans.items() if n > 0)
    return seconds / 3600
