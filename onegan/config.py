"""OneGAN configuration: dataclasses with named presets and named ablations (Tables 1-3).

``OneGANConfig.preset(name, num_classes, num_parents)`` builds ``paper`` (the paper's §5 scale),
``tiny`` (CPU demo) or ``smoke`` (CI, a few dozen iterations); ``config.with_ablation(name)``
returns a copy with one of the paper's ablation rows switched on (``ABLATIONS`` lists them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from core.errors import UserError

Normalization = Literal["glu-lnorm", "glu-inorm", "lnorm", "inorm"]
NORMALIZATIONS: tuple[str, ...] = ("glu-lnorm", "glu-inorm", "lnorm", "inorm")
Precision = Literal["fp32", "bf16"]
BackgroundCode = Literal["parent", "single"]
BACKGROUND_CODES: tuple[str, ...] = ("parent", "single")
ReconstructionClassCodes = Literal["argmax", "straight-through"]
RECONSTRUCTION_CLASS_CODES: tuple[str, ...] = ("argmax", "straight-through")
CodeInit = Literal["normal", "orthogonal"]
CODE_INITS: tuple[str, ...] = ("normal", "orthogonal")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


class UnknownPresetError(UserError, ValueError):
    """A preset or ablation name that does not exist."""


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the sub-networks. The ``paper`` preset has FineGAN's (``kkanshul/finegan`` train.yml:
    GF_DIM = DF_DIM = 64, Z_DIM = 100, R_NUM = 2) and its code widths; smaller presets keep the topology.

    The pre-images A_bg, A_fg and bypasses B_bg, B_fg live at ``image_size / 4`` resolution.
    """

    num_classes: int = 200          # NC, child classes phi_c
    num_parents: int = 20           # NP, parent classes phi_p (e_bg = e_p, so also the background codes)
    image_size: int = 128
    ngf: int = 64                   # generator width (FineGAN GF_DIM): 16·ngf at 4x4, ngf at full size
    ndf: int = 64                   # discriminator / encoder width (FineGAN DF_DIM)
    z_dim: int = 100                # d_z
    # Width of the embedded codes v_bg, v_p, v_c (Eq. 2). None: FineGAN's one-hot widths, which the
    # embeddings replace (d_bg = NC as FineGAN's tied background code, d_p = NP, d_c = NC), so every
    # generator layer has FineGAN's shape. An int: that width for all three.
    code_dim: int | None = None
    residual_blocks: int = 2        # ResBlocks in each code-joining stage (FineGAN R_NUM)
    # Strides of D_bg's three 4x4 convs (FineGAN encode_background_img: 2, 2, 1 -> 34-px patches at
    # 128 px). Small images use stride 1 first so that D_bg still has several patches per image.
    background_patch_strides: tuple[int, int, int] = (2, 2, 1)
    normalization: Normalization = "glu-lnorm"
    # Mixup (Eq. 9). None: beta sampled per instance (the paper); a float: beta fixed (ablations).
    mixup_codes_beta: float | None = None     # beta_1, beta_2 (v_p/v_c vs encoder predictions)
    mixup_bypass_beta: float | None = None    # beta_3, beta_4 (A_fg/A_bg vs bypasses B_fg/B_bg)
    bypass: bool = True             # False: the reconstruction path ignores B_fg/B_bg ("no bypass")
    # e_bg (Eq. 1): "parent" is the paper's e_bg = e_p (backgrounds follow the parent, as water birds
    # follow water); "single" gives every class one background code, for data whose backgrounds carry
    # no class (the synthetic world), where a parent-coded background is a cue the encoders can read
    # on fakes and that real images do not have (docs/findings/cluster-cues.md).
    background_code: BackgroundCode = "parent"
    # The one-hot ê_p, ê_c the reconstruction path embeds (paper-silent): "argmax" (hard; the class
    # heads learn only from L_E on fakes) or "straight-through" (the same hard one-hot forward, the
    # softmax's gradient backward, so reconstructing real images also trains the class heads).
    reconstruction_class_codes: ReconstructionClassCodes = "argmax"
    # Q_m (paper-silent, networks/mask_classifier.py): True adds a classifier of φ_p from the generated
    # mask I_m alone, trained with the generator by LossConfig.mask_parent_weight · CE(Q_m(I_m), φ_p),
    # so that the outline, not only the whole image, carries the parent.
    mask_parent_classifier: bool = False
    # How V_bg, V_p, V_c start (paper-silent): "normal" is PyTorch's N(0, 1) entries, so a code's norm
    # is a draw (at d_p = 4 it ranges 0.9-3.8 over four parents) and a code drawn long drowns z in
    # its generator; "orthogonal" starts them mutually orthogonal with unit norms (FineGAN's one-hot
    # codes, rotated), so no code starts louder than another.
    code_init: CodeInit = "normal"

    def __post_init__(self) -> None:
        if self.image_size < 32 or self.image_size & (self.image_size - 1):
            raise UserError(f"image_size must be a power of two >= 32, got {self.image_size}")
        if self.normalization not in NORMALIZATIONS:
            raise UserError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.background_code not in BACKGROUND_CODES:
            raise UserError(f"background_code must be one of {BACKGROUND_CODES}, got {self.background_code!r}")
        if self.reconstruction_class_codes not in RECONSTRUCTION_CLASS_CODES:
            raise UserError(f"reconstruction_class_codes must be one of {RECONSTRUCTION_CLASS_CODES}, "
                            f"got {self.reconstruction_class_codes!r}")
        if self.code_init not in CODE_INITS:
            raise UserError(f"code_init must be one of {CODE_INITS}, got {self.code_init!r}")
        if self.num_classes < 1 or self.num_parents < 1:
            raise UserError(f"need NC, NP >= 1, got NC={self.num_classes}, NP={self.num_parents}")
        if self.ngf < 4 or self.ngf % 4:
            raise UserError(f"ngf must be a multiple of 4 (the child stage ends at ngf/4), got {self.ngf}")
        if self.background_patch_size()[1] < 1:
            raise UserError(f"background_patch_strides {self.background_patch_strides} leave no D_bg patch "
                            f"at {self.image_size} px; use smaller strides")

    @property
    def background_code_dim(self) -> int:
        """d_bg, width of v_bg."""
        return self.num_classes if self.code_dim is None else self.code_dim

    @property
    def parent_code_dim(self) -> int:
        """d_p, width of v_p."""
        return self.num_parents if self.code_dim is None else self.code_dim

    @property
    def child_code_dim(self) -> int:
        """d_c, width of v_c."""
        return self.num_classes if self.code_dim is None else self.code_dim

    def background_patch_size(self) -> tuple[int, int]:
        """(receptive field in px, patches per side) of D_bg's logits: three 4x4 convs and a 4x4 head,
        no padding."""
        field, jump, size = 1, 1, self.image_size
        for stride in (*self.background_patch_strides, 1):
            field += 3 * jump
            jump *= stride
            size = (size - 4) // stride + 1
        return field, size


@dataclass(frozen=True)
class LossConfig:
    """Weights of Eqs. 10-18 (the paper's values) and switches for the loss ablations (Table 3c)."""

    bg_adversarial_weight: float = 10.0     # the 10 in L_D = 10 L_DbgA + ... and L_G = 10 L_GbgA + ...
    code_regularization_weight: float = 0.1  # 0.1 L_Rv in L_GEN (Eq. 14)
    mask_regularization_weight: float = 2.0  # 2 L_RM in L_GEN (Eq. 14)
    use_mask_regularization: bool = True     # False: "no loss L_RM"
    use_vae: bool = True                     # False: "no loss L_VAE"
    use_perceptual: bool = True              # False: "no loss L_PER"
    # L_RM's documented form (see losses.mask_regularization_loss): mask area kept in [min, max].
    mask_area_min: float = 0.1
    mask_area_max: float = 0.9
    mask_area_weight: float = 0.0   # L_RM's optional sparsity term (not in the paper preset)
    # Choices the paper leaves open (docs/onegan-implementation.md):
    # the codes the fake reconstruction mixes in and L_VAE targets: "predicted" (argmax ê_p, ê_c, as
    # for real images) or "known" (the (φ_p, φ_c) the fake was generated from).
    fake_reconstruction_codes: Literal["predicted", "known"] = "predicted"
    # True: the fake reconstruction's input I is detached, so L_AE on fakes trains the encoders and
    # the generators' reconstruction, not the generation that made I.
    detach_fake_reconstruction_input: bool = True
    # Weight of CE(Q_m(I_m), φ_p) in L_GEN when ModelConfig.mask_parent_classifier is on (paper-silent).
    mask_parent_weight: float = 1.0
    # Paper-silent (onegan/nuisance_augmentation.py): E_p, E_c classify a copy of the generated I
    # recomposed on another sample's background, rotated by up to ±augment_rotation_degrees, scaled
    # within augment_scale, mirrored at random, shifted by up to augment_translate (fraction of the half
    # side) and brightened by up to ±augment_brightness, so that the codes cannot live in those nuisances.
    nuisance_augmentation: bool = False
    augment_swap_background: bool = True
    augment_rotation_degrees: float = 180.0
    augment_scale: tuple[float, float] = (0.8, 1.2)
    augment_translate: float = 0.1
    augment_brightness: float = 0.2
    # E_p's copy also gets a random hue rotation (the parent is the shape; see nuisance_augmentation.py).
    augment_parent_hue: bool = False

    def __post_init__(self) -> None:
        low, high = self.augment_scale
        if not 0 < low <= high:
            raise UserError(f"augment_scale must be (low, high) with 0 < low <= high, got {self.augment_scale}")
        if not 0 <= self.augment_brightness < 1:
            raise UserError(f"augment_brightness must lie in [0, 1), got {self.augment_brightness}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Multi-phase training (§4.3): Phase I = generation path only; Phase II adds the reconstruction
    path on fake images at ``fake_recon_start`` and on real images at ``real_recon_start``."""

    iterations: int = 600_000
    fake_recon_start: int = 200_000
    real_recon_start: int = 400_000
    reconstruction: bool = True      # False: "Phase I only"
    real_reconstruction: bool = True  # False: "no real recon"
    multi_phase: bool = True         # False: "no multi-phase" (every path from iteration 0)

    def __post_init__(self) -> None:
        if not 0 <= self.fake_recon_start <= self.real_recon_start:
            raise UserError(f"need 0 <= fake_recon_start ({self.fake_recon_start}) <= real_recon_start "
                            f"({self.real_recon_start})")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping: Adam lr 2e-4 for every sub-network (§5), FineGAN's betas.

    ``batch_size`` is the global batch (the paper's 20): under torchrun each of W processes takes
    batch_size / W samples. ``precision="bf16"`` runs the forward passes under bfloat16 autocast, on
    CPU as on CUDA (losses and weights stay float32); the default is float32.
    """

    batch_size: int = 20
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    log_every: int = 100
    sample_every: int = 5000
    checkpoint_every: int = 5000
    precision: Precision = "fp32"
    flip: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UserError(f"batch size must be >= 1, got {self.batch_size}")
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


@dataclass(frozen=True)
class PerformanceConfig:
    """How a step is computed on the hardware, not what it computes (docs/performance-gpu.md).

    Each switch keeps the model the same up to float rounding (a run resumes with other switches),
    and each defaults to what was measured to pay: ``channels_last`` on (+10% on CPU, the layout the
    trainer's fast path always used); the three GPU levers off until a lent GPU measures them
    (``scripts/gpu_step_study.py``), which no session has done yet.

    - ``fused_layer_norm``: LNorm by multi-block reductions without layout copies
      (``onegan/networks/layer_norm.py``) instead of ``nn.GroupNorm(1, C)``.
    - ``channels_last``: networks and input images in NHWC memory order end to end (only on the
      trainer's fast path; ``Trainer(fast=False)`` stays NCHW).
    - ``cuda_graphs``: capture each phase's whole step once and replay it (``onegan/step_capture.py``);
      CUDA and a single process only. The keyed draws are made outside the graph into static buffers.
    - ``overlap_gradient_reduction``: under torchrun, all-reduce each gradient bucket as soon as the
      backward pass has filled it, while the rest of the backward runs (``onegan/distributed.py``).
    """

    fused_layer_norm: bool = False
    channels_last: bool = True
    cuda_graphs: bool = False
    overlap_gradient_reduction: bool = False


@dataclass(frozen=True)
class OneGANConfig:
    """Everything a OneGAN run needs; serialisable with ``to_dict``/``from_dict``."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset_name: str = "paper"
    ablation: str | None = None
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)

    @classmethod
    def preset(cls, name: str, num_classes: int, num_parents: int) -> OneGANConfig:
        """The named preset (``PRESETS``) for a dataset with NC children and NP parents."""
        if name not in PRESETS:
            raise UnknownPresetError(f"unknown OneGAN preset {name!r}; choose one of {sorted(PRESETS)}")
        config = PRESETS[name]()
        return replace(config, preset_name=name,
                       model=replace(config.model, num_classes=num_classes, num_parents=num_parents))

    def with_ablation(self, name: str | None) -> OneGANConfig:
        """A copy with the named ablation row of Tables 1-3 applied (``None``: unchanged)."""
        if name is None:
            return self
        if name not in ABLATIONS:
            raise UnknownPresetError(f"unknown OneGAN ablation {name!r}; choose one of {sorted(ABLATIONS)}")
        return replace(ABLATIONS[name].apply(self), ablation=name)

    def with_iterations(self, iterations: int) -> OneGANConfig:
        """Shorten/lengthen a run keeping the phase boundaries at the same fractions of it."""
        s = self.schedule
        scale = iterations / max(s.iterations, 1)
        return replace(self, schedule=replace(s, iterations=iterations,
                                              fake_recon_start=round(s.fake_recon_start * scale),
                                              real_recon_start=round(s.real_recon_start * scale)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OneGANConfig:
        train = dict(data["train"])
        train["betas"] = tuple(train["betas"])
        # Configs written before `precision`: mixed_precision meant bf16 on CUDA only, so every
        # CPU-trained one (all of those committed) was float32.
        train.pop("mixed_precision", None)
        model = dict(data["model"])
        if "background_patch_strides" in model:
            model["background_patch_strides"] = tuple(model["background_patch_strides"])
        loss = dict(data["loss"])
        if "augment_scale" in loss:
            loss["augment_scale"] = tuple(loss["augment_scale"])
        return cls(model=ModelConfig(**model), loss=LossConfig(**loss),
                   schedule=ScheduleConfig(**data["schedule"]), train=TrainConfig(**train),
                   preset_name=data.get("preset_name", "paper"), ablation=data.get("ablation"),
                   # Configs written before the switches existed ran what the defaults are.
                   performance=PerformanceConfig(**data.get("performance", {})))

    def with_performance(self, **switches: bool) -> OneGANConfig:
        """A copy with ``PerformanceConfig`` switches changed (a UserError names an unknown one)."""
        known = {f.name for f in dataclasses.fields(PerformanceConfig)}
        unknown = sorted(set(switches) - known)
        if unknown:
            raise UserError(f"unknown performance switch {unknown[0]!r}; choose from {', '.join(sorted(known))}")
        return replace(self, performance=replace(self.performance, **switches))


def _paper() -> OneGANConfig:
    return OneGANConfig()


def _tiny() -> OneGANConfig:
    # Measured on the synthetic set (results/studies/tiny_preset_design/onegan_tiny_synthetic.json).
    # ndf = 32: at ndf = 8 the
    # discriminators (8/16 channels) never left chance (L_DbgA, L_DbgB ~ 2 ln 2), so D_bgB could not
    # forbid objects in I_bg and the masks stayed blobs at the area bound. L_RM: masks at most 45% of
    # the image plus a sparsity pull (0.5 x area), so the mask shrinks to what I_bg may not show.
    # Nuisance augmentation with a hue-blind E_p (paper-silent, onegan/nuisance_augmentation.py): without
    # it the codes live in the background and the pose's handedness on fakes, and the clusters of real
    # images stay at the colour floor (docs/findings/code-carriers.md). The paper preset keeps Eq. 12 as is.
    # Orthonormal code embeddings: at d_p = 4, N(0, 1) rows drew one parent's code 4x longer than
    # another's, and the longest drowned z in its generator (docs/findings/parent-code-length.md).
    return OneGANConfig(
        model=ModelConfig(image_size=32, ngf=16, ndf=32, z_dim=16, background_patch_strides=(1, 2, 1),
                          code_init="orthogonal"),
        loss=LossConfig(mask_area_max=0.45, mask_area_weight=0.5, nuisance_augmentation=True,
                        augment_parent_hue=True),
        schedule=ScheduleConfig(iterations=1200, fake_recon_start=400, real_recon_start=800),
        train=TrainConfig(batch_size=16, lr=4e-4, log_every=25, sample_every=200, checkpoint_every=200),
    )


def _smoke() -> OneGANConfig:
    return OneGANConfig(
        model=ModelConfig(image_size=32, ngf=4, ndf=4, z_dim=8, residual_blocks=1, background_patch_strides=(1, 2, 1)),
        schedule=ScheduleConfig(iterations=30, fake_recon_start=10, real_recon_start=20),
        train=TrainConfig(batch_size=8, log_every=5, sample_every=15,
                          checkpoint_every=10),
    )


PRESETS = {"paper": _paper, "tiny": _tiny, "smoke": _smoke}


def _model(config: OneGANConfig, **changes: Any) -> OneGANConfig:
    return replace(config, model=replace(config.model, **changes))


def _loss(config: OneGANConfig, **changes: Any) -> OneGANConfig:
    return replace(config, loss=replace(config.loss, **changes))


def _schedule(config: OneGANConfig, **changes: Any) -> OneGANConfig:
    return replace(config, schedule=replace(config.schedule, **changes))


@dataclass(frozen=True)
class Ablation:
    """One ablation row of Tables 1-3, declared once: the name ``--ablation``/``--ablations`` take, the
    switch it flips, and where the paper prints it (``table`` "1-2" or "3"; Table 3's ``block``) under
    which ``label``. ``bench run`` trains these rows and ``bench table`` lays them out from this list."""

    name: str
    apply: Callable[[OneGANConfig], OneGANConfig]
    table: Literal["1-2", "3"]
    block: str | None   # Table 3's sub-table: "(a) normalization", "(b) modules", "(c) losses"
    label: str          # the row's label in the paper


# Every ablation row of Tables 1-3, in the paper's order. "no mixup(i,j)" replaces the randomly weighted
# mixup by a fixed pass-through of the encoder side (beta = 1): the encoder predictions / bypasses still
# feed the generators, but the ever-changing beta that makes both inputs independent representations
# is gone.
ABLATION_ROWS: tuple[Ablation, ...] = (
    Ablation("no-real-recon", lambda c: _schedule(c, real_reconstruction=False), "1-2", None, "no real recon"),
    Ablation("phase1-only", lambda c: _schedule(c, reconstruction=False), "1-2", None, "Phase I only"),
    Ablation("no-multi-phase", lambda c: _schedule(c, multi_phase=False), "1-2", None, "no multi-phase"),
    Ablation("glu-inorm", lambda c: _model(c, normalization="glu-inorm"), "3", "(a) normalization", "GLU-INorm"),
    Ablation("lnorm", lambda c: _model(c, normalization="lnorm"), "3", "(a) normalization", "LNorm"),
    Ablation("inorm", lambda c: _model(c, normalization="inorm"), "3", "(a) normalization", "INorm"),
    Ablation("no-bypass", lambda c: _model(c, bypass=False), "3", "(b) modules", "no bypass"),
    Ablation("no-mixup12", lambda c: _model(c, mixup_codes_beta=1.0), "3", "(b) modules", "no mixup(1,2)"),
    Ablation("no-mixup34", lambda c: _model(c, mixup_bypass_beta=1.0), "3", "(b) modules", "no mixup(3,4)"),
    Ablation("no-rm", lambda c: _loss(c, use_mask_regularization=False), "3", "(c) losses", "no loss L_RM"),
    Ablation("no-vae", lambda c: _loss(c, use_vae=False), "3", "(c) losses", "no loss L_VAE"),
    Ablation("no-per", lambda c: _loss(c, use_perceptual=False), "3", "(c) losses", "no loss L_PER"),
)
ABLATIONS: dict[str, Ablation] = {row.name: row for row in ABLATION_ROWS}
