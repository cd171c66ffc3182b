"""Named scales of a whole benchmark run (``bench run --preset``).

A preset fixes everything a run's numbers depend on besides the seed: the synthetic dataset's
options (when the synthetic default is used), each method's training preset and iteration budget,
the evaluator classifier, and the evaluation protocol. Budgets are iteration counts, never wall
clock, so a run is reproducible; ``max_minutes`` is only a safety cap against slow machines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from core.errors import UserError


@dataclass(frozen=True)
class SyntheticOptions:
    classes: int = 12
    parents: int = 4
    images: int = 2400
    size: int = 64


@dataclass(frozen=True)
class RunPreset:
    name: str
    method_preset: str                       # the smoke/tiny/paper preset each method trains with
    synthetic: SyntheticOptions = field(default_factory=SyntheticOptions)
    iterations: dict[str, int] = field(default_factory=dict)   # per-method override of the preset's budget
    ablation_preset: str | None = None        # the OneGAN preset of Table 3's variants (default: method_preset)
    ablation_iterations: int | None = None    # every ablation variant (and its reference) trains this long
    max_minutes: float | None = None          # safety cap per training run
    evaluator_arch: str = "small"
    evaluator_epochs: int = 5
    images_per_class: int = 150               # generated images per child code (FineGAN protocol: 150)
    max_eval_images: int | None = None        # cap on real images scored (None: all)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, RunPreset] = {
    # CI regression: a few minutes on 2 CPU cores, the whole pipeline at toy scale.
    "smoke": RunPreset(
        name="smoke", method_preset="smoke",
        synthetic=SyntheticOptions(classes=6, parents=2, images=360, size=32),
        ablation_iterations=30, max_minutes=3, evaluator_epochs=12, images_per_class=20, max_eval_images=200,
    ),
    # The CPU demo: the default synthetic world, every method at its tiny preset. Table 3 (under any
    # preset only when asked: `--task ablation`, or `--task all` with `--ablations`) trains its thirteen
    # OneGAN runs at the full tiny budget. max_minutes is only a safety cap.
    "tiny": RunPreset(
        name="tiny", method_preset="tiny", synthetic=SyntheticOptions(),
        max_minutes=45, evaluator_epochs=12, images_per_class=50,
    ),
    # The paper: 600k iterations, FineGAN's protocol of 150 images per child code, the fine-tuned
    # InceptionV3 as evaluator. Meant for a GPU and the real datasets.
    "paper": RunPreset(name="paper", method_preset="paper", evaluator_arch="inception_v3", evaluator_epochs=20,
                       images_per_class=150),
}


def get_preset(name: str, ablation_preset: str | None = None) -> RunPreset:
    """The named run preset; ``ablation_preset`` trains the ablation variants at that OneGAN preset's
    own full budget instead (e.g. ``tiny`` for meaningful Table 3 numbers on a CPU: 13 runs of ~6 CPU-minutes)."""
    if name not in PRESETS:
        raise UserError(f"unknown run preset {name!r}; choose one of {sorted(PRESETS)}")
    preset = PRESETS[name]
    if ablation_preset is not None:
        preset = replace(preset, ablation_preset=ablation_preset, ablation_iterations=None)
    return preset
