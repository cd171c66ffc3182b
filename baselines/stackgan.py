"""StackGANv2 (Zhang et al., TPAMI 2018), unconditional, + OneGAN's encoders: the "StackGANv2∗" rows.

Generator (multi-stage tree): z -> FC -> 4x4 -> GLU up-blocks -> h_0 at the first stage's size
-> image I_0; every later stage joins h_{i-1} with z broadcast over space (the unconditional model
feeds z where the conditional one feeds its text code), applies residual GLU blocks and one up-block
-> h_i at twice the size -> I_i. ``num_stages`` stages end at ``image_size`` (paper scale: 3 stages
32 -> 64 -> 128 on 128 px data, where the original ran 64 -> 128 -> 256; tiny: 2 stages 16 -> 32).

One discriminator per stage judges real images (resized to that stage) against I_i (unconditional
BCE loss). The generator adds the colour-consistency term between consecutive stages,
α·(λ1·‖μ_i - μ_{i-1}‖² + λ2·‖Σ_i - Σ_{i-1}‖²_F) with each image's pixel mean μ and 3x3 colour
covariance Σ (λ1 = 1, λ2 = 5, α = 50 for unconditional generation, as the paper reports; the norms
are averaged over elements and images).

"+ our encoders" and conditional generation. StackGANv2 has no class codes, so the child/parent
code of a sample is *defined* on its noise: NP fixed random unit directions u_p and NC fixed random
unit directions v_c (seeded, stored in the checkpoint) cut the z-space into cells,
    parent(z) = argmax_p <u_p, z>,   child(z) = argmax over the children of parent(z) of <v_c, z>,
with the children of a parent given by the fixed map (NC/NP consecutive children per parent), so a
child cell lies inside its parent's cell. OneGAN's E_c/E_p are then trained on generated images to
predict child(z), parent(z) and z (``baselines.encoder_fitting``). ``cluster`` returns their argmax
on real images. ``generate(child)`` returns images that the trained style encoder assigns to
``child``: candidates are drawn from the child's z-cell (rejection sampling in z, cheap), rendered,
and accepted when argmax ê_c == child; rejected rows are redrawn up to ``generate_rounds`` times,
after which the last candidate is kept (``last_acceptance_rate`` records how many agreed). So the
conditional metrics see generated and real images grouped by the same encoder, as the OneGAN paper
evaluates StackGANv2 "+ our encoders". StackGANv2 has no mask: ``segment`` is not supported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from baselines.encoder_fitting import (
    BaselineEncoders,
    EncoderFitConfig,
    GANBaselineConfig,
    GeneratedBatch,
    TwoPhaseRunState,
    encoder_model_config,
    train_gan_then_encoders,
)
from baselines.gan_blocks import (
    ConvGLU,
    DownsampleTrunk,
    ImageHead,
    InitialStage,
    ResidualBlock,
    UpBlock,
    init_gan_weights,
    to_signed,
    to_unit,
)
from baselines.object_tensors import resize_images
from baselines.sample_sheets import SAMPLE_IMAGES, fixed_generator, spread_codes
from core.contract import Clusters, Method, TrainRequest
from core.errors import UserError
from core.tensorboard_log import SampleSheets, image_rows
from core.training_run import load_checkpoint, pick_device, seed_everything
from data_prep.prepared import parent_of

NAME = "stackgan"


@dataclass(frozen=True)
class StackGANConfig(GANBaselineConfig):
    """StackGANv2 sizes and training; ``ngf`` as in FineGAN (the 4x4 map has 16·ngf channels)."""

    TITLE: ClassVar[str] = "StackGANv2"

    image_size: int = 128
    num_stages: int = 3
    z_dim: int = 100
    ngf: int = 64
    min_channels: int = 8
    ndf: int = 64
    residual_blocks: int = 2
    batch_size: int = 24
    iterations: int = 600_000
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    color_loss_weight: float = 50.0     # α (unconditional)
    color_mean_weight: float = 1.0      # λ1
    color_covariance_weight: float = 5.0  # λ2
    flip: bool = True
    cell_seed: int = 1234               # seeds the z-cell directions that define child/parent codes
    generate_rounds: int = 20           # redraws before generate(child) keeps a disagreeing sample
    log_every: int = 100
    sample_every: int = 5000            # TensorBoard sheets of the GAN phase (0: none), as OneGAN's
    checkpoint_every: int = 5000
    gan_time_fraction: float = 0.8
    encoders: EncoderFitConfig = field(default_factory=lambda: EncoderFitConfig(
        onegan_preset="paper", iterations=100_000, batch_size=20))

    def __post_init__(self) -> None:
        first = self.image_size >> (self.num_stages - 1)
        if self.num_stages < 1 or first < 4 or self.image_size & (self.image_size - 1):
            raise UserError(f"StackGANv2 needs a power-of-two image_size with image_size / 2^(stages-1) >= 4, "
                            f"got image_size={self.image_size}, num_stages={self.num_stages}")

    @property
    def stage_sizes(self) -> tuple[int, ...]:
        return tuple(self.image_size >> (self.num_stages - 1 - i) for i in range(self.num_stages))


SCHEDULE_KEYS = {"iterations", "log_every", "sample_every", "checkpoint_every", "gan_time_fraction", "encoders",
                 "generate_rounds"}

PRESETS: dict[str, StackGANConfig] = {
    # Paper scale, ending at the 128 px prepared size (StackGANv2's batch size 24).
    "paper": StackGANConfig(),
    # CPU demo: about a minute of one CPU core on the 64 px synthetic world (StackGANv2 is cheaper than FineGAN).
    "tiny": StackGANConfig(
        image_size=32, num_stages=2, z_dim=16, ngf=4, ndf=16, residual_blocks=1, batch_size=16,
        iterations=1500, log_every=25, sample_every=250, checkpoint_every=500,
        encoders=EncoderFitConfig(onegan_preset="tiny", iterations=300, batch_size=32),
    ),
    "smoke": StackGANConfig(
        image_size=32, num_stages=2, z_dim=8, ngf=2, ndf=4, residual_blocks=1, batch_size=8,
        iterations=6, log_every=2, sample_every=3, checkpoint_every=3, generate_rounds=3,
        encoders=EncoderFitConfig(onegan_preset="smoke", iterations=4, batch_size=8),
    ),
}


# --------------------------------------------------------------------------------------------------
# Codes on z: the cells that stand in for classes


class LatentCells(nn.Module):
    """Fixed random unit directions cutting z-space into NP parent cells, each split into its
    children's cells (see the module docstring). Buffers, so they travel with the checkpoint."""

    def __init__(self, z_dim: int, num_classes: int, num_parents: int, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.num_classes, self.num_parents = num_classes, num_parents
        self.register_buffer("parent_directions", F.normalize(torch.randn(num_parents, z_dim, generator=g), dim=1))
        self.register_buffer("child_directions", F.normalize(torch.randn(num_classes, z_dim, generator=g), dim=1))
        children_parent = parent_of(torch.arange(num_classes), num_classes, num_parents)
        self.register_buffer("child_parent", children_parent)

    def parent(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.parent_directions.T).argmax(1)

    def child(self, z: torch.Tensor) -> torch.Tensor:
        scores = z @ self.child_directions.T
        allowed = self.child_parent[None, :] == self.parent(z)[:, None]
        return scores.masked_fill(~allowed, float("-inf")).argmax(1)

    @torch.no_grad()
    def sample_in_cells(self, child: torch.Tensor, z_dim: int, generator: torch.Generator | None = None,
                        chunk: int = 4096, max_draws: int = 10_000_000) -> torch.Tensor:
        """z ~ N(0, I) conditioned on child(z) == child[i], by rejection (row by row order-free)."""
        device = self.child_directions.device
        out = torch.empty(child.shape[0], z_dim, device=device)
        todo = torch.ones(child.shape[0], dtype=torch.bool, device=device)
        drawn = 0
        while bool(todo.any()):
            if drawn > max_draws:
                raise RuntimeError("could not sample z in the requested cells (a cell of ~zero probability)")
            z = torch.randn(chunk, z_dim, generator=generator).to(device)
            drawn += chunk
            cells = self.child(z)
            for code in torch.unique(child[todo]).tolist():
                rows = torch.nonzero(todo & (child == code)).flatten()
                hits = z[cells == code][: rows.numel()]
                out[rows[: hits.shape[0]]] = hits
                todo[rows[: hits.shape[0]]] = False
        return out


# --------------------------------------------------------------------------------------------------
# Networks


class StackGANGenerator(nn.Module):
    def __init__(self, config: StackGANConfig) -> None:
        super().__init__()
        sizes = config.stage_sizes
        self.initial = InitialStage(config.z_dim, config.ngf * 16, sizes[0], config.min_channels)
        channels = self.initial.out_channels
        self.heads = nn.ModuleList([ImageHead(channels)])
        self.joins = nn.ModuleList()
        self.residuals = nn.ModuleList()
        self.ups = nn.ModuleList()
        for _ in sizes[1:]:
            self.joins.append(ConvGLU(channels + config.z_dim, channels))
            self.residuals.append(nn.Sequential(*[ResidualBlock(channels) for _ in range(config.residual_blocks)]))
            next_channels = max(channels // 2, config.min_channels)
            self.ups.append(UpBlock(channels, next_channels))
            channels = next_channels
            self.heads.append(ImageHead(channels))

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Images of every stage, smallest first, in [-1, 1]."""
        h = self.initial(z)
        images = [self.heads[0](h)]
        for join, residual, up, head in zip(self.joins, self.residuals, self.ups, self.heads[1:], strict=True):
            z_map = z[:, :, None, None].expand(-1, -1, *h.shape[-2:])
            h = up(residual(join(torch.cat([h, z_map], dim=1))))
            images.append(head(h))
        return images


class StageDiscriminator(nn.Module):
    """Unconditional D for one stage: down-sampling trunk to 4x4, 4x4 conv to one logit."""

    def __init__(self, size: int, ndf: int) -> None:
        super().__init__()
        self.trunk = DownsampleTrunk(size, ndf, max_width=ndf * 8)
        self.logit = nn.Conv2d(self.trunk.out_channels, 1, 4)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logit(self.trunk(images)).flatten(1)


def color_statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image pixel mean μ (N, 3) and colour covariance Σ (N, 3, 3)."""
    pixels = images.flatten(2)                       # (N, 3, P)
    mean = pixels.mean(dim=2)
    centred = pixels - mean[:, :, None]
    covariance = centred @ centred.transpose(1, 2) / pixels.shape[2]
    return mean, covariance


def color_consistency_loss(small: torch.Tensor, large: torch.Tensor, mean_weight: float,
                           covariance_weight: float) -> torch.Tensor:
    """λ1·MSE(μ_small, μ_large) + λ2·MSE(Σ_small, Σ_large) (StackGANv2's L_C)."""
    mean_s, cov_s = color_statistics(small)
    mean_l, cov_l = color_statistics(large)
    return mean_weight * F.mse_loss(mean_l, mean_s) + covariance_weight * F.mse_loss(cov_l, cov_s)


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


# --------------------------------------------------------------------------------------------------
# Training


class _Run(TwoPhaseRunState):
    method_name = NAME
    modules = ("generator", "discriminators", "cells", "encoders")

    def __init__(self, config: StackGANConfig, meta: dict[str, Any], device: torch.device, seed: int) -> None:
        self.config, self.meta, self.device, self.seed = config, meta, device, seed
        self.rng = seed_everything(seed)
        self.generator = StackGANGenerator(config).to(device)
        self.discriminators = nn.ModuleList([StageDiscriminator(s, config.ndf)
                                             for s in config.stage_sizes]).to(device)
        self.generator.apply(init_gan_weights)
        self.discriminators.apply(init_gan_weights)
        self.cells = LatentCells(config.z_dim, meta["num_classes"], meta["num_parents"], config.cell_seed).to(device)
        encoder_model = encoder_model_config(config.encoders.onegan_preset, meta["num_classes"],
                                             meta["num_parents"], config.image_size, config.z_dim)
        self.encoders = BaselineEncoders(encoder_model).to(device)
        self.start_optimisers()

    def gan_step(self, data, _iteration: int) -> dict[str, float]:
        cfg = self.config
        index = torch.randint(len(data), (cfg.batch_size,), generator=self.rng)
        real = data.images[index].float().div_(255.0)
        if cfg.flip:
            flip = torch.rand(cfg.batch_size, generator=self.rng) < 0.5
            real[flip] = real[flip].flip(-1)
        real = to_signed(real).to(self.device)
        reals = [resize_images(real, size) for size in cfg.stage_sizes]
        z = torch.randn(cfg.batch_size, cfg.z_dim, generator=self.rng).to(self.device)
        self.generator.train()
        self.discriminators.train()
        fakes = self.generator(z)

        d_total = real.new_zeros(())
        out: dict[str, float] = {}
        for i, (d, real_i, fake_i) in enumerate(zip(self.discriminators, reals, fakes, strict=True)):
            loss = bce(d(real_i), 1.0) + bce(d(fake_i.detach()), 0.0)
            out[f"d_stage{i}"] = float(loss.detach())
            d_total = d_total + loss
        self.opt_d.zero_grad(set_to_none=True)
        d_total.backward()
        self.opt_d.step()

        g_total = real.new_zeros(())
        for i, (d, fake_i) in enumerate(zip(self.discriminators, fakes, strict=True)):
            loss = bce(d(fake_i), 1.0)
            out[f"g_stage{i}"] = float(loss.detach())
            g_total = g_total + loss
            if i > 0 and cfg.color_loss_weight > 0:
                color = color_consistency_loss(fakes[i - 1], fake_i, cfg.color_mean_weight,
                                               cfg.color_covariance_weight)
                out[f"g_color{i}"] = float(color.detach())
                g_total = g_total + cfg.color_loss_weight * color
        self.opt_g.zero_grad(set_to_none=True)
        g_total.backward()
        self.opt_g.step()
        out["d_total"], out["g_total"] = float(d_total.detach()), float(g_total.detach())
        return out

    def sample_generated(self, n: int) -> GeneratedBatch:
        self.generator.eval()
        z = torch.randn(n, self.config.z_dim, generator=self.rng).to(self.device)
        return GeneratedBatch(self.generator(z)[-1], self.cells.child(z), self.cells.parent(z), z)

    def sample_sheets(self) -> SampleSheets:
        """Two TensorBoard sheets from fixed noise: ``generation`` - rows of child codes (spread over the
        parents), each row noise vectors drawn inside that code's z-cell; ``stages`` - one column per
        noise vector, one row per stage (smallest first, scaled up to the final size)."""
        size = self.config.image_size

        def draw() -> dict[str, torch.Tensor]:
            generator = fixed_generator(self.seed)
            rows = []
            for code in spread_codes(4, self.meta["num_classes"]):
                z = self.cells.sample_in_cells(code.expand(SAMPLE_IMAGES).to(self.device), self.config.z_dim,
                                               generator=generator)
                rows.append(to_unit(self.generator(z)[-1]))
            z = torch.randn(SAMPLE_IMAGES, self.config.z_dim, generator=generator).to(self.device)
            stages = [to_unit(F.interpolate(image, size=(size, size), mode="nearest")) for image in self.generator(z)]
            return {"generation": image_rows(rows), "stages": image_rows(stages)}

        return SampleSheets(self.config.sample_every, draw, (self.generator,))


def train(request: TrainRequest, config: StackGANConfig | None = None) -> Path:
    """Train StackGANv2, then fit OneGAN's encoders to its z-cells; returns the checkpoint path."""
    config = config or StackGANConfig.preset(request.preset)
    return train_gan_then_encoders(request, method=NAME, config=config, make_run=_Run, schedule_keys=SCHEDULE_KEYS)


# --------------------------------------------------------------------------------------------------
# Inference


class StackGANMethod(Method):
    """StackGANv2 + OneGAN's encoders: generate (encoder-conditioned) and cluster."""

    name = NAME
    tasks = frozenset({"generate", "cluster"})

    def __init__(self, config: StackGANConfig, meta: dict[str, Any], generator: StackGANGenerator,
                 cells: LatentCells, encoders: BaselineEncoders, device: torch.device,
                 state: dict[str, Any] | None = None) -> None:
        self.config, self.meta, self.device = config, meta, device
        self.num_classes, self.num_parents = int(meta["num_classes"]), int(meta["num_parents"])
        self.generator = generator.eval()
        self.cells = cells.eval()
        self.encoders = encoders.eval()
        self.gan_iteration = int(state["gan_iteration"]) if state else 0
        self.encoder_iteration = int(state["encoder_iteration"]) if state else 0
        self.last_acceptance_rate: float | None = None

    @torch.no_grad()
    def generate(self, child: torch.Tensor, parent: torch.Tensor | None = None,
                 z: torch.Tensor | None = None) -> torch.Tensor:
        """Images the style encoder assigns to ``child`` (see the module docstring).

        ``parent`` is implied by the child (the fixed map) and otherwise ignored; an explicit ``z``
        is rendered as given (an unconditional model: the child cannot then be imposed).
        """
        child = torch.as_tensor(child, dtype=torch.long)
        if child.ndim != 1 or (child.numel() and (child.min() < 0 or child.max() >= self.num_classes)):
            raise UserError(f"child codes must be a 1-D tensor of integers in [0, {self.num_classes})")
        if z is not None:
            z = z.to(self.device, torch.float32)
            if z.shape != (child.shape[0], self.config.z_dim):
                raise UserError(f"z must have shape ({child.shape[0]}, {self.config.z_dim}), got {tuple(z.shape)}")
            return to_unit(self.generator(z)[-1]).cpu()
        child = child.to(self.device)
        images = torch.empty(child.shape[0], 3, self.config.image_size, self.config.image_size,
                             device=self.device)
        pending = torch.ones(child.shape[0], dtype=torch.bool, device=self.device)
        for _ in range(self.config.generate_rounds):
            rows = torch.nonzero(pending).flatten()
            if rows.numel() == 0:
                break
            z_rows = self.cells.sample_in_cells(child[rows], self.config.z_dim)
            rendered = self.generator(z_rows)[-1]
            images[rows] = rendered
            agree = self.encoders.style_encoder(rendered).child_logits.argmax(1) == child[rows]
            pending[rows[agree]] = False
        self.last_acceptance_rate = 1.0 - float(pending.float().mean()) if child.numel() else 1.0
        return to_unit(images).cpu()

    @torch.no_grad()
    def cluster(self, images: torch.Tensor) -> Clusters:
        if images.ndim != 4 or images.shape[1] != 3:
            raise UserError(f"images must be (N, 3, H, W), got {tuple(images.shape)}")
        x = to_signed(resize_images(images.to(self.device, torch.float32), self.config.image_size))
        encoded = self.encoders(x)
        return Clusters(child=encoded.child_logits.argmax(1).cpu(), parent=encoded.parent_logits.argmax(1).cpu())


def load(checkpoint: Path, device: str | None = None) -> StackGANMethod:
    dev = pick_device(device)
    state = load_checkpoint(checkpoint, NAME, map_location=dev)
    config = StackGANConfig.from_dict(state["config"])
    meta = state["meta"]
    generator = StackGANGenerator(config).to(dev)
    generator.load_state_dict(state["generator"])
    cells = LatentCells(config.z_dim, meta["num_classes"], meta["num_parents"], config.cell_seed).to(dev)
    cells.load_state_dict(state["cells"])
    encoders = BaselineEncoders.from_config_dict(state["encoder_model"]).to(dev)
    encoders.load_state_dict(state["encoders"])
    return StackGANMethod(config, meta, generator, cells, encoders, dev, state)
