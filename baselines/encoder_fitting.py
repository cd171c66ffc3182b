""""+ our encoders": OneGAN's shape and style encoders trained on a frozen baseline generator's outputs.

The OneGAN paper evaluates FineGAN and StackGANv2 "+ our encoders" (Tables 2-3, mark ∗): neither
model can encode a real image, so OneGAN's encoders are trained on the generator's own samples,
where the codes are known, and then applied to real images. Here the encoders are exactly
``onegan.networks.encoders`` built from the OneGAN preset of the same name (``smoke``/``tiny``/
``paper`` widths) at the baseline's image size and noise size, and trained as OneGAN trains them in
its generation path (Eq. 12 and the z part of Eq. 13):

    L_enc = CE(ê_c, φ_c) + CE(ê_p, φ_p) + λ_z · MSE(μ_z, z)

with E_c = style encoder (child logits ê_c), E_p = shape encoder (parent logits ê_p and pose μ_z).
The code vectors (μ_p, μ_c), the bypass B_fg and the background encoder E_bg have no counterpart in
a one-hot generator without pre-image skip connections, so they are not trained (E_bg is not built).

What counts as the child/parent code of a sample is the baseline's business: FineGAN's one-hot
inputs; StackGANv2's latent-space cells (see ``baselines.stackgan``).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserError
from core.tensorboard_log import SampleSheets
from onegan.config import ModelConfig, OneGANConfig
from onegan.networks.encoders import ShapeEncoder, StyleEncoder


@dataclass(frozen=True)
class EncoderFitConfig:
    """How the encoders are fitted to a frozen generator (their widths come from ``onegan_preset``)."""

    onegan_preset: str = "tiny"
    iterations: int = 500
    batch_size: int = 32
    lr: float = 2e-4             # OneGAN §5: Adam lr 2e-4 for every sub-network
    betas: tuple[float, float] = (0.5, 0.999)
    z_weight: float = 1.0        # λ_z on MSE(μ_z, z)


def _tuples(value: Any) -> Any:
    """A JSON list (nested ones too) back into the tuple a config held."""
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


Config = TypeVar("Config", bound="GANBaselineConfig")


class GANBaselineConfig:
    """What the GAN baselines' config dataclasses (FineGAN, StackGANv2) share: a named preset, and the
    round trip through a checkpoint's dict (lists back into tuples, ``encoders`` back into an
    ``EncoderFitConfig``). A subclass names itself in ``TITLE``; its presets are its module's
    ``PRESETS`` (declared below the class, since they are instances of it)."""

    TITLE: ClassVar[str]

    @classmethod
    def preset(cls: type[Config], name: str) -> Config:
        presets = sys.modules[cls.__module__].PRESETS
        if name not in presets:
            raise UserError(f"unknown {cls.TITLE} preset {name!r}; choose one of {sorted(presets)}")
        return presets[name]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[Config], data: dict[str, Any]) -> Config:
        fields = {key: _tuples(value) for key, value in data.items() if key != "encoders"}
        encoders = EncoderFitConfig(**{key: _tuples(value) for key, value in data["encoders"].items()})
        return cls(**fields, encoders=encoders)


class EncodedImages(NamedTuple):
    child_logits: torch.Tensor    # ê_c (N, NC)
    parent_logits: torch.Tensor   # ê_p (N, NP)
    z_mean: torch.Tensor          # μ_z (N, d_z)


class GeneratedBatch(NamedTuple):
    """A frozen generator's samples with the codes that produced them. Images in [-1, 1]."""

    images: torch.Tensor
    child: torch.Tensor
    parent: torch.Tensor
    z: torch.Tensor



def encoder_model_config(onegan_preset: str, num_classes: int, num_parents: int, image_size: int,
                         z_dim: int) -> ModelConfig:
    """OneGAN's encoder sizes from its preset, at the baseline's image size and noise size."""
    config = OneGANConfig.preset(onegan_preset, num_classes, num_parents)
    return dataclasses.replace(config.model, image_size=image_size, z_dim=z_dim)


class BaselineEncoders(nn.Module):
    """OneGAN's E_p (shape) and E_c (style), sized for a baseline generator.

    Checkpoints store ``model_config`` (``dataclasses.asdict``) so they load even after OneGAN's
    presets change; ``from_config_dict`` rebuilds from it."""

    def __init__(self, model_config: ModelConfig) -> None:
        super().__init__()
        self.model_config = model_config
        self.image_size = model_config.image_size
        self.shape_encoder = ShapeEncoder(model_config)
        self.style_encoder = StyleEncoder(model_config)

    @classmethod
    def from_config_dict(cls, data: dict) -> BaselineEncoders:
        return cls(ModelConfig(**data))

    def config_dict(self) -> dict:
        return dataclasses.asdict(self.model_config)

    def forward(self, images: torch.Tensor) -> EncodedImages:
        """``images`` in [-1, 1] at ``image_size``."""
        shape = self.shape_encoder(images)
        style = self.style_encoder(images)
        return EncodedImages(style.child_logits, shape.parent_logits, shape.mu_z)


def encoder_losses(encoded: EncodedImages, batch: GeneratedBatch, z_weight: float) -> dict[str, torch.Tensor]:
    """The three terms of L_enc and their weighted sum (``total``)."""
    child = F.cross_entropy(encoded.child_logits, batch.child)
    parent = F.cross_entropy(encoded.parent_logits, batch.parent)
    z = F.mse_loss(encoded.z_mean, batch.z)
    return {"total": child + parent + z_weight * z, "child_ce": child, "parent_ce": parent, "z_mse": z}


def encoder_step(encoders: BaselineEncoders, optimizer: torch.optim.Optimizer,
                 sample: Callable[[int], GeneratedBatch], config: EncoderFitConfig) -> dict[str, float]:
    """One Adam step of L_enc on a fresh batch from the frozen generator (``sample(n)``)."""
    with torch.no_grad():
        batch = sample(config.batch_size)
    encoders.train()
    encoded = encoders(batch.images)
    losses = encoder_losses(encoded, batch, config.z_weight)
    optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    optimizer.step()
    out = {k: float(v.detach()) for k, v in losses.items()}
    out["child_accuracy"] = float((encoded.child_logits.argmax(1) == batch.child).float().mean())
    return out


def make_encoder_optimizer(encoders: BaselineEncoders, config: EncoderFitConfig) -> torch.optim.Adam:
    return torch.optim.Adam(encoders.parameters(), lr=config.lr, betas=config.betas)


def prepared_meta(prepared) -> dict:
    """What a two-phase baseline's checkpoint records of its data (checked again on resume and load)."""
    return {"num_classes": prepared.num_classes, "num_parents": prepared.num_parents,
            "fingerprint": prepared.fingerprint, "dataset": prepared.name, "prepared_size": prepared.size}


def train_gan_then_encoders(request, *, method: str, config, make_run: Callable, schedule_keys: set[str]) -> Path:
    """The ``train`` of the "+ our encoders" baselines (FineGAN, StackGANv2): the prologue (deadline,
    data, device, ``make_run(config, meta, device, seed)``, which seeds and builds the networks) and
    the two-phase schedule.

    Phase 1 trains the GAN (``run.gan_step``) for ``config.iterations``, writing ``run.sample_sheets()``
    to TensorBoard every ``config.sample_every`` iterations; phase 2 fits OneGAN's encoders
    on the frozen generator's samples (``run.sample_generated``) for ``config.encoders.iterations``.
    Both resume from ``request.out``'s checkpoint (``core.training_run.claim_run_dir`` decides about an
    existing run); with ``max_minutes`` the GAN gets ``config.gan_time_fraction`` of the time and the
    encoders always get the rest.
    """
    from baselines.gan_training import CHECKPOINT_NAME, LOG_NAME, CheckpointSaver, restore_or_reset, run_phase
    from baselines.object_tensors import load_object_tensors
    from core.training_run import Deadline, pick_device, requested_checkpoint_minutes
    from data_prep.prepared import load_prepared

    deadline = Deadline(request.max_minutes)
    prepared = load_prepared(request.data)
    meta = prepared_meta(prepared)
    device = pick_device(request.device)
    run = make_run(config, meta, device, request.seed)
    out = Path(request.out)
    state = restore_or_reset(out, resume=request.resume, restart=getattr(request, "restart", False), method=method,
                             wanted_config=config.to_dict(), schedule_keys=schedule_keys,
                             fingerprint=meta["fingerprint"], map_location=device)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / CHECKPOINT_NAME
    if state is not None:
        run.load_state_dict(state)
    save = CheckpointSaver(checkpoint, run)
    minutes = requested_checkpoint_minutes(request)
    if run.gan_iteration < config.iterations:
        data = load_object_tensors(prepared, config.image_size)
        run_phase(
            phase=method, done=run.gan_iteration, total=config.iterations,
            step=lambda it: run.gan_step(data, it), save=save, log_path=out / LOG_NAME,
            log_every=config.log_every, checkpoint_every=config.checkpoint_every,
            deadline=deadline.split(config.gan_time_fraction),
            on_iteration=lambda n: setattr(run, "gan_iteration", n), checkpoint_minutes=minutes,
            samples=run.sample_sheets())
    enc = config.encoders
    run_phase(
        phase=f"{method}-encoders", done=run.encoder_iteration, total=enc.iterations,
        step=lambda it: encoder_step(run.encoders, run.opt_e, run.sample_generated, enc), save=save,
        log_path=out / LOG_NAME, log_every=config.log_every, checkpoint_every=config.checkpoint_every,
        deadline=deadline, on_iteration=lambda n: setattr(run, "encoder_iteration", n), checkpoint_minutes=minutes)
    if not checkpoint.exists():
        save()
    return checkpoint


class TwoPhaseRunState:
    """Checkpoint (``state_dict``/``load_state_dict``) of a GAN-then-encoders run.

    Subclasses (FineGAN's and StackGANv2's runs) set ``method_name`` and list their networks in
    ``modules``; both hold ``opt_g``/``opt_d``/``opt_e``, a ``torch.Generator`` ``rng``, the two
    phase counters and the elapsed seconds.
    """

    method_name: str = ""
    modules: tuple[str, ...] = ("generator", "discriminators", "encoders")
    optimisers: tuple[str, ...] = ("opt_g", "opt_d", "opt_e")

    def start_optimisers(self) -> None:
        """Adam for the generator and the discriminators (the config's ``lr`` and ``betas``), the encoders'
        optimiser (``make_encoder_optimizer``), and the counters of a run that has not started."""
        config = self.config
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.discriminators.parameters(), lr=config.lr, betas=config.betas)
        self.opt_e = make_encoder_optimizer(self.encoders, config.encoders)
        self.gan_iteration = 0
        self.encoder_iteration = 0
        self.seconds = 0.0

    def state_dict(self) -> dict:
        from core.provenance import git_commit, package_versions

        state = {
            "method": self.method_name, "config": self.config.to_dict(), "meta": self.meta, "seed": self.seed,
            "gan_iteration": self.gan_iteration, "encoder_iteration": self.encoder_iteration,
            "seconds": self.seconds, "encoder_model": self.encoders.config_dict(),
            "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(),
            "provenance": {"git_commit": git_commit(), "versions": package_versions()},
        }
        state.update({name: getattr(self, name).state_dict() for name in (*self.modules, *self.optimisers)})
        return state

    def load_state_dict(self, state: dict) -> None:
        for name in (*self.modules, *self.optimisers):
            getattr(self, name).load_state_dict(state[name])
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.gan_iteration = int(state["gan_iteration"])
        self.encoder_iteration = int(state["encoder_iteration"])
        self.seconds = float(state.get("seconds", 0.0))

    def sample_sheets(self) -> SampleSheets | None:
        """What the GAN phase shows in TensorBoard (the subclass's generator samples); None: nothing."""
        return None
