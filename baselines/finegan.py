"""FineGAN (Singh, Ojha, Lee, CVPR 2019) + OneGAN's encoders, the "FineGAN∗" rows of Tables 1-3.

Generator (hierarchical, one-hot codes; Singh et al. §3):
- background stage: (z, b) -> background image B (tanh);
- parent stage: (z, p) -> features h_p -> parent foreground P_f and mask P_m;
  parent image P = B ∘ (1 - P_m) + P_f ∘ P_m;
- child stage: (h_p, c broadcast) -> GLU conv + residual blocks -> child foreground C_f and mask C_m,
  pasted on the parent image: C = P ∘ (1 - C_m) + C_f ∘ C_m (the final image).
Codes: c ~ U{0..NC-1}; p = the fixed map (NC/NP consecutive children per parent); b = p (FineGAN's
tied codes). The same z feeds every stage.

Discriminators:
- D_b, patch-wise on backgrounds, two heads: real/fake (D_bgA) and background/foreground (D_bgB).
  On real images the patches whose receptive field overlaps the object are removed from the
  real/fake loss and are the "foreground" targets (0) of the bg/fg head; the others are real
  background (1). FineGAN's code masks every output unit whose field *overlaps* the warped bbox (its
  ``a1 = ceil((x1 - rf)/stride)`` .. ``floor(x2/stride)``), the default rule here; ``"inside"`` (only
  fields lying entirely inside the object) is offered too. The object region is the manifest's bbox
  mapped into crop pixels (``background_patch_source="bbox"``, FineGAN's supervision) or the
  GT/pseudo mask (``"mask"``: more real background patches, but it uses the masks the segmentation
  task is scored on, so it is off by default). The real/fake loss on real images is averaged over
  the unmasked units only; the background loss has weight 10 (FineGAN's BG_LOSS_WT, OneGAN Eq. 10-11).
- D_p: information network predicting p from the masked parent foreground P_f ∘ P_m (InfoGAN loss).
- D_c: real/fake on the final image C, and a head predicting c from the masked child foreground
  C_f ∘ C_m (InfoGAN loss). Info heads are trained on detached fakes in the D step and steer G in the
  G step (the usual InfoGAN arrangement).
FineGAN's optional hard-negative mining phase is not implemented.

"+ our encoders" (``baselines.encoder_fitting``): after the GAN, OneGAN's E_c/E_p learn to read
(c, p, z) from generated images. ``cluster`` = argmax of ê_c (child) and ê_p (parent).
``segment`` encodes a real image and *regenerates* its mask: ĉ = argmax ê_c, p̂ = b̂ = argmax ê_p,
ẑ = μ_z -> the frozen generator -> foreground mask 1 - (1 - P_m)(1 - C_m) (every pixel the parent or
the child stage covers), resized to the input. FineGAN has no reconstruction path, so this is the
only way it can segment; the mask is aligned with the real object only as far as ẑ recovers its
pose, which is the weakness the OneGAN paper measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

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
    DownBlock,
    DownsampleTrunk,
    ImageHead,
    InitialStage,
    MaskHead,
    ResidualBlock,
    init_gan_weights,
    to_signed,
    to_unit,
)
from baselines.object_tensors import resize_images, take_batch
from baselines.sample_sheets import SAMPLE_IMAGES, fixed_generator, spread_codes
from core.contract import Clusters, Method, TrainRequest
from core.errors import UserError
from core.tensorboard_log import SampleSheets, image_rows
from core.training_run import load_checkpoint, pick_device, seed_everything
from data_prep.prepared import parent_of

NAME = "finegan"

PATCH_RULES = ("overlap", "inside")
PATCH_SOURCES = ("bbox", "mask")


# --------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class FineGANConfig(GANBaselineConfig):
    """FineGAN sizes and training. ``ngf`` is FineGAN's GF_DIM: each initial stage starts from a
    4x4 map of 16·ngf channels and halves the width per doubling. ``background_layers`` are the
    (kernel, stride, padding) of D_b's convolutions before its 1x1 heads; FineGAN's are
    ((4,2,0),(4,2,0),(4,1,0),(4,1,0)): 34-pixel fields every 4 pixels, a 24x24 grid at 126 px."""

    TITLE: ClassVar[str] = "FineGAN"

    image_size: int = 128
    z_dim: int = 100
    ngf: int = 64
    min_channels: int = 8           # generator width never drops below this
    ndf: int = 64
    child_residual_blocks: int = 2
    background_layers: tuple[tuple[int, int, int], ...] = ((4, 2, 0), (4, 2, 0), (4, 1, 0), (4, 1, 0))
    background_patch_rule: str = "overlap"
    background_patch_source: str = "bbox"
    batch_size: int = 16
    iterations: int = 600_000
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    background_loss_weight: float = 10.0
    parent_info_weight: float = 1.0
    child_info_weight: float = 1.0
    flip: bool = True
    log_every: int = 100
    sample_every: int = 5000         # TensorBoard sheets of the GAN phase (0: none), as OneGAN's
    checkpoint_every: int = 5000
    # With max_minutes set, the GAN phase may use this fraction of the time, the encoders the rest.
    gan_time_fraction: float = 0.8
    encoders: EncoderFitConfig = field(default_factory=lambda: EncoderFitConfig(
        onegan_preset="paper", iterations=100_000, batch_size=20))

    def __post_init__(self) -> None:
        if self.image_size < 16 or self.image_size & (self.image_size - 1):
            raise UserError(f"FineGAN image_size must be a power of two >= 16, got {self.image_size}")
        if self.background_patch_rule not in PATCH_RULES:
            raise UserError(f"background_patch_rule must be one of {PATCH_RULES}")
        if self.background_patch_source not in PATCH_SOURCES:
            raise UserError(f"background_patch_source must be one of {PATCH_SOURCES}")


# Keys that may change between a run and its resumption (how long / how often), not the model.
SCHEDULE_KEYS = {"iterations", "log_every", "sample_every", "checkpoint_every", "gan_time_fraction", "encoders"}

PRESETS: dict[str, FineGANConfig] = {
    # Paper scale (FineGAN's birds setup at 128 px; batch size assumed 16).
    "paper": FineGANConfig(),
    # CPU demo on the 64 px synthetic world, trained at 32 px: about 85 s of one CPU core
    # (lr 4e-4 as OneGAN's tiny preset: twice the paper's, for a run this short). D_b uses
    # 8-pixel fields every 2 pixels so that the ~5-pixel margins around the synthetic objects still
    # give real background units (about 30% of them under the bbox overlap rule).
    "tiny": FineGANConfig(
        image_size=32, z_dim=16, ngf=4, ndf=16, child_residual_blocks=1,
        background_layers=((4, 2, 1), (3, 1, 1)), batch_size=16, iterations=800, lr=4e-4,
        log_every=25, sample_every=200, checkpoint_every=200,
        encoders=EncoderFitConfig(onegan_preset="tiny", iterations=200, batch_size=32),
    ),
    # CI regression: seconds.
    "smoke": FineGANConfig(
        image_size=32, z_dim=8, ngf=2, ndf=4, child_residual_blocks=1,
        background_layers=((4, 2, 1), (3, 1, 1)), batch_size=8, iterations=6,
        log_every=2, sample_every=3, checkpoint_every=3,
        encoders=EncoderFitConfig(onegan_preset="smoke", iterations=4, batch_size=8),
    ),
}


# --------------------------------------------------------------------------------------------------
# The background discriminator's patch geometry and the real-image patch mask


@dataclass(frozen=True)
class PatchGeometry:
    """Receptive fields of a stack of convolutions (kernel, stride, padding), per axis: output unit
    ``i`` sees input pixels ``[offset + i*stride, offset + i*stride + field)`` (clipped to the image)."""

    layers: tuple[tuple[int, int, int], ...]

    @property
    def field(self) -> int:
        size, jump = 1, 1
        for kernel, stride, _ in self.layers:
            size += (kernel - 1) * jump
            jump *= stride
        return size

    @property
    def stride(self) -> int:
        jump = 1
        for _, stride, _ in self.layers:
            jump *= stride
        return jump

    @property
    def offset(self) -> int:
        offset, jump = 0, 1
        for _, stride, padding in self.layers:
            offset -= padding * jump
            jump *= stride
        return offset

    def output_size(self, input_size: int) -> int:
        size = input_size
        for kernel, stride, padding in self.layers:
            size = (size + 2 * padding - kernel) // stride + 1
        return size

    def field_bounds(self, input_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Start (inclusive) and end (exclusive) pixel of every output unit's field, clipped."""
        index = torch.arange(self.output_size(input_size))
        start = self.offset + index * self.stride
        return start.clamp(0, input_size), (start + self.field).clamp(0, input_size)


def boxes_to_region(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Rasterise (x0, y0, x1, y1) boxes into (N, 1, size, size) {0, 1}: pixel (u, v) is inside when
    its centre (u + 0.5, v + 0.5) is."""
    centres = torch.arange(size, dtype=boxes.dtype, device=boxes.device) + 0.5
    inside_x = (centres[None] >= boxes[:, 0:1]) & (centres[None] < boxes[:, 2:3])
    inside_y = (centres[None] >= boxes[:, 1:2]) & (centres[None] < boxes[:, 3:4])
    return (inside_y[:, :, None] & inside_x[:, None, :]).float()[:, None]


def background_patch_weights(object_region: torch.Tensor, geometry: PatchGeometry,
                             rule: str = "overlap") -> torch.Tensor:
    """(N, 1, h, w): 1 where D_b's output unit sees real background, 0 where it sees the object.

    ``object_region`` (N, 1, S, S) marks object pixels (a rasterised bbox or a mask). ``rule``:
    ``"overlap"`` - a unit is object when its field contains any object pixel (FineGAN's code);
    ``"inside"`` - only when every pixel of its (clipped) field is object.
    """
    if rule not in PATCH_RULES:
        raise ValueError(f"rule must be one of {PATCH_RULES}, got {rule!r}")
    size = object_region.shape[-1]
    # Integral image: count of object pixels in any rectangle in O(1).
    integral = F.pad(object_region.float().cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    start, end = geometry.field_bounds(size)
    y0, y1 = start[:, None], end[:, None]
    x0, x1 = start[None, :], end[None, :]
    counts = (integral[..., y1, x1] - integral[..., y0, x1] - integral[..., y1, x0] + integral[..., y0, x0])
    if rule == "overlap":
        is_object = counts > 0.5
    else:
        area = ((y1 - y0) * (x1 - x0)).to(counts.dtype)
        is_object = (counts > area - 0.5) & (area > 0)
    return (~is_object).float()


# --------------------------------------------------------------------------------------------------
# Networks


class FineGANOutput(NamedTuple):
    """Every intermediate image of the hierarchy, images in [-1, 1], masks in [0, 1]."""

    background: torch.Tensor     # B
    parent_fg: torch.Tensor      # P_f
    parent_mask: torch.Tensor    # P_m
    parent_image: torch.Tensor   # P = B (1 - P_m) + P_f P_m
    child_fg: torch.Tensor       # C_f
    child_mask: torch.Tensor     # C_m
    image: torch.Tensor          # C = P (1 - C_m) + C_f C_m

    @property
    def foreground_mask(self) -> torch.Tensor:
        """Pixels covered by the parent or the child stage: 1 - (1 - P_m)(1 - C_m)."""
        return 1.0 - (1.0 - self.parent_mask) * (1.0 - self.child_mask)


class FineGANGenerator(nn.Module):
    def __init__(self, config: FineGANConfig, num_classes: int, num_parents: int) -> None:
        super().__init__()
        self.num_classes, self.num_parents = num_classes, num_parents
        width = config.ngf * 16
        self.background_stage = InitialStage(config.z_dim + num_parents, width, config.image_size,
                                             config.min_channels)
        self.background_head = ImageHead(self.background_stage.out_channels)
        self.parent_stage = InitialStage(config.z_dim + num_parents, width, config.image_size,
                                         config.min_channels)
        features = self.parent_stage.out_channels
        self.parent_image_head = ImageHead(features)
        self.parent_mask_head = MaskHead(features)
        self.child_join = ConvGLU(features + num_classes, features)
        self.child_residual = nn.Sequential(*[ResidualBlock(features)
                                              for _ in range(config.child_residual_blocks)])
        self.child_image_head = ImageHead(features)
        self.child_mask_head = MaskHead(features)

    def forward(self, z: torch.Tensor, child: torch.Tensor, parent: torch.Tensor,
                background: torch.Tensor) -> FineGANOutput:
        """z (N, d_z); child, parent, background: int64 (N,) codes."""
        c = F.one_hot(child, self.num_classes).to(z.dtype)
        p = F.one_hot(parent, self.num_parents).to(z.dtype)
        b = F.one_hot(background, self.num_parents).to(z.dtype)
        bg = self.background_head(self.background_stage(torch.cat([z, b], dim=1)))
        h_parent = self.parent_stage(torch.cat([z, p], dim=1))
        parent_fg, parent_mask = self.parent_image_head(h_parent), self.parent_mask_head(h_parent)
        parent_image = bg * (1 - parent_mask) + parent_fg * parent_mask
        c_map = c[:, :, None, None].expand(-1, -1, *h_parent.shape[-2:])
        h_child = self.child_residual(self.child_join(torch.cat([h_parent, c_map], dim=1)))
        child_fg, child_mask = self.child_image_head(h_child), self.child_mask_head(h_child)
        image = parent_image * (1 - child_mask) + child_fg * child_mask
        return FineGANOutput(bg, parent_fg, parent_mask, parent_image, child_fg, child_mask, image)


class BackgroundDiscriminatorOutput(NamedTuple):
    real_fake: torch.Tensor      # D_bgA logits (N, 1, h, w)
    background: torch.Tensor     # D_bgB logits (N, 1, h, w): background (1) vs object (0)


class BackgroundDiscriminator(nn.Module):
    """D_b: patch-wise, two 1x1 heads over a trunk of the configured convolutions."""

    def __init__(self, config: FineGANConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels_in, channels_out = 3, config.ndf
        for i, (kernel, stride, padding) in enumerate(config.background_layers):
            layers.append(nn.Conv2d(channels_in, channels_out, kernel, stride, padding, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(channels_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            channels_in, channels_out = channels_out, min(channels_out * 2, config.ndf * 8)
        self.trunk = nn.Sequential(*layers)
        self.real_fake_head = nn.Conv2d(channels_in, 1, 1)
        self.background_head = nn.Conv2d(channels_in, 1, 1)
        self.geometry = PatchGeometry(config.background_layers)

    def forward(self, images: torch.Tensor) -> BackgroundDiscriminatorOutput:
        h = self.trunk(images)
        return BackgroundDiscriminatorOutput(self.real_fake_head(h), self.background_head(h))


class ImageDiscriminator(nn.Module):
    """Down-sampling trunk to 4x4, then a real/fake logit (optional) and code logits.

    D_c = ImageDiscriminator(real_fake=True, NC); D_p = ImageDiscriminator(real_fake=False, NP).
    """

    def __init__(self, config: FineGANConfig, num_codes: int, real_fake: bool) -> None:
        super().__init__()
        self.trunk = DownsampleTrunk(config.image_size, config.ndf, max_width=config.ndf * 8)
        channels = self.trunk.out_channels
        self.code_head = nn.Sequential(DownBlock(channels, channels, batch_norm=True),
                                       nn.Flatten(), nn.Linear(channels * 4, num_codes))
        self.real_fake_head = nn.Conv2d(channels, 1, 4) if real_fake else None

    def real_fake(self, images: torch.Tensor) -> torch.Tensor:
        if self.real_fake_head is None:
            raise RuntimeError("this discriminator has no real/fake head")
        return self.real_fake_head(self.trunk(images)).flatten(1)

    def code_logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.code_head(self.trunk(images))


class FineGANDiscriminators(nn.Module):
    def __init__(self, config: FineGANConfig, num_classes: int, num_parents: int) -> None:
        super().__init__()
        self.background = BackgroundDiscriminator(config)
        self.parent = ImageDiscriminator(config, num_parents, real_fake=False)
        self.child = ImageDiscriminator(config, num_classes, real_fake=True)


# --------------------------------------------------------------------------------------------------
# Losses (one function per term; FineGAN's and OneGAN's weights)


def masked_bce(logits: torch.Tensor, target: float, weights: torch.Tensor) -> torch.Tensor:
    """BCE averaged over the units with weight 1 (0 when there are none)."""
    per_unit = F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none")
    return (per_unit * weights).sum() / weights.sum().clamp_min(1.0)


def bce(logits: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(target):
        target = torch.full_like(logits, float(target))
    return F.binary_cross_entropy_with_logits(logits, target)


def discriminator_losses(d: FineGANDiscriminators, real: torch.Tensor, patch_weights: torch.Tensor,
                         fake: FineGANOutput, child: torch.Tensor, parent: torch.Tensor,
                         config: FineGANConfig) -> dict[str, torch.Tensor]:
    """L_D = 10 (L_DbgA_real + L_DbgA_fake) + L_DbgB + L_DcA + info terms (fakes detached)."""
    real_bg = d.background(real)
    fake_bg = d.background(fake.background.detach())
    bg_real = masked_bce(real_bg.real_fake, 1.0, patch_weights)
    bg_fake = bce(fake_bg.real_fake, 0.0)
    bg_class = bce(real_bg.background, patch_weights)
    child_real = bce(d.child.real_fake(real), 1.0)
    child_fake = bce(d.child.real_fake(fake.image.detach()), 0.0)
    info_parent = F.cross_entropy(d.parent.code_logits((fake.parent_fg * fake.parent_mask).detach()), parent)
    info_child = F.cross_entropy(d.child.code_logits((fake.child_fg * fake.child_mask).detach()), child)
    total = (config.background_loss_weight * (bg_real + bg_fake) + bg_class + child_real + child_fake
             + config.parent_info_weight * info_parent + config.child_info_weight * info_child)
    return {"total": total, "d_bg_real": bg_real, "d_bg_fake": bg_fake, "d_bg_class": bg_class,
            "d_child_real": child_real, "d_child_fake": child_fake, "d_info_parent": info_parent,
            "d_info_child": info_child}


def generator_losses(d: FineGANDiscriminators, fake: FineGANOutput, child: torch.Tensor,
                     parent: torch.Tensor, config: FineGANConfig) -> dict[str, torch.Tensor]:
    """L_G = 10 L_GbgA + L_GbgB + L_GcA + λ_p L_info(p) + λ_c L_info(c)."""
    fake_bg = d.background(fake.background)
    bg_adv = bce(fake_bg.real_fake, 1.0)
    bg_class = bce(fake_bg.background, 1.0)
    child_adv = bce(d.child.real_fake(fake.image), 1.0)
    info_parent = F.cross_entropy(d.parent.code_logits(fake.parent_fg * fake.parent_mask), parent)
    info_child = F.cross_entropy(d.child.code_logits(fake.child_fg * fake.child_mask), child)
    total = (config.background_loss_weight * bg_adv + bg_class + child_adv
             + config.parent_info_weight * info_parent + config.child_info_weight * info_child)
    return {"total": total, "g_bg_adv": bg_adv, "g_bg_class": bg_class, "g_child_adv": child_adv,
            "g_info_parent": info_parent, "g_info_child": info_child}


# --------------------------------------------------------------------------------------------------
# Training


class _Run(TwoPhaseRunState):
    """Everything a FineGAN training run holds; ``state_dict`` is the checkpoint."""

    method_name = NAME

    def __init__(self, config: FineGANConfig, meta: dict[str, Any], device: torch.device, seed: int) -> None:
        self.config, self.meta, self.device, self.seed = config, meta, device, seed
        self.rng = seed_everything(seed)
        nc, np_ = meta["num_classes"], meta["num_parents"]
        self.generator = FineGANGenerator(config, nc, np_).to(device)
        self.discriminators = FineGANDiscriminators(config, nc, np_).to(device)
        self.generator.apply(init_gan_weights)
        self.discriminators.apply(init_gan_weights)
        encoder_model = encoder_model_config(config.encoders.onegan_preset, nc, np_, config.image_size,
                                             config.z_dim)
        self.encoders = BaselineEncoders(encoder_model).to(device)
        self.start_optimisers()

    def sample_codes(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        nc, np_ = self.meta["num_classes"], self.meta["num_parents"]
        child = torch.randint(nc, (n,), generator=self.rng)
        parent = parent_of(child, nc, np_)
        z = torch.randn(n, self.config.z_dim, generator=self.rng)
        return child.to(self.device), parent.to(self.device), z.to(self.device)

    def gan_step(self, data, _iteration: int) -> dict[str, float]:
        cfg = self.config
        index = torch.randint(len(data), (cfg.batch_size,), generator=self.rng)
        flip = (torch.rand(cfg.batch_size, generator=self.rng) < 0.5) if cfg.flip else None
        images, masks, has_mask, boxes = take_batch(data, index, flip)
        real = to_signed(images).to(self.device)
        region = boxes_to_region(boxes, cfg.image_size)
        if cfg.background_patch_source == "mask":
            region = torch.where(has_mask[:, None, None, None], masks, region)
        weights = background_patch_weights(region, self.discriminators.background.geometry,
                                           cfg.background_patch_rule).to(self.device)
        child, parent, z = self.sample_codes(cfg.batch_size)
        self.generator.train()
        self.discriminators.train()
        fake = self.generator(z, child, parent, parent)

        d_losses = discriminator_losses(self.discriminators, real, weights, fake, child, parent, cfg)
        self.opt_d.zero_grad(set_to_none=True)
        d_losses["total"].backward()
        self.opt_d.step()

        g_losses = generator_losses(self.discriminators, fake, child, parent, cfg)
        self.opt_g.zero_grad(set_to_none=True)
        g_losses["total"].backward()
        self.opt_g.step()
        out = {("d_total" if k == "total" else k): float(v.detach()) for k, v in d_losses.items()}
        out.update({("g_total" if k == "total" else k): float(v.detach()) for k, v in g_losses.items()})
        out["mask_mean"] = float(fake.foreground_mask.detach().mean())
        out["real_background_patches"] = float(weights.mean())
        return out

    def sample_generated(self, n: int) -> GeneratedBatch:
        """Frozen-generator samples for the encoders (eval mode: the BatchNorm statistics used later)."""
        self.generator.eval()
        child, parent, z = self.sample_codes(n)
        return GeneratedBatch(self.generator(z, child, parent, parent).image, child, parent, z)

    def sample_sheets(self) -> SampleSheets:
        """Two TensorBoard sheets from fixed noise: ``generation`` - rows of child codes (spread over the
        parents), columns of noise vectors shared by every row (the code changes, z stays); ``parts`` -
        one column per code with C, B, P_f, P_m, C_f, C_m (FineGAN's hierarchy, Singh et al. Fig. 2)."""
        nc, np_ = self.meta["num_classes"], self.meta["num_parents"]

        def render(child: torch.Tensor, z: torch.Tensor) -> FineGANOutput:
            child = child.to(self.device)
            parent = parent_of(child, nc, np_)
            return self.generator(z.to(self.device), child, parent, parent)

        def draw() -> dict[str, torch.Tensor]:
            generator = fixed_generator(self.seed)
            z = torch.randn(SAMPLE_IMAGES, self.config.z_dim, generator=generator)
            rows = [to_unit(render(code.expand(SAMPLE_IMAGES), z).image) for code in spread_codes(4, nc)]
            parts = render(spread_codes(SAMPLE_IMAGES, nc), torch.randn(SAMPLE_IMAGES, self.config.z_dim,
                                                                        generator=generator))
            return {"generation": image_rows(rows),
                    "parts": image_rows([to_unit(parts.image), to_unit(parts.background), to_unit(parts.parent_fg),
                                         parts.parent_mask, to_unit(parts.child_fg), parts.child_mask])}

        return SampleSheets(self.config.sample_every, draw, (self.generator,))


def train(request: TrainRequest, config: FineGANConfig | None = None) -> Path:
    """Train FineGAN, then fit OneGAN's encoders to it; returns the checkpoint path.

    ``config`` overrides the preset (tests use it to change iteration counts). A checkpoint in
    ``request.out`` is resumed when ``request.resume``; a finished one is returned as is.
    """
    config = config or FineGANConfig.preset(request.preset)
    return train_gan_then_encoders(request, method=NAME, config=config, make_run=_Run, schedule_keys=SCHEDULE_KEYS)


# --------------------------------------------------------------------------------------------------
# Inference


class FineGANMethod(Method):
    """FineGAN + OneGAN's encoders behind the benchmark interface (images in [0, 1])."""

    name = NAME
    tasks = frozenset({"generate", "segment", "cluster"})

    def __init__(self, config: FineGANConfig, meta: dict[str, Any], generator: FineGANGenerator,
                 encoders: BaselineEncoders, device: torch.device, state: dict[str, Any] | None = None) -> None:
        self.config, self.meta, self.device = config, meta, device
        self.num_classes, self.num_parents = int(meta["num_classes"]), int(meta["num_parents"])
        self.generator = generator.eval()
        self.encoders = encoders.eval()
        self.gan_iteration = int(state["gan_iteration"]) if state else 0
        self.encoder_iteration = int(state["encoder_iteration"]) if state else 0

    def _check_codes(self, codes: torch.Tensor, limit: int, what: str) -> torch.Tensor:
        codes = torch.as_tensor(codes, dtype=torch.long)
        if codes.ndim != 1 or (codes.numel() and (codes.min() < 0 or codes.max() >= limit)):
            raise UserError(f"{what} codes must be a 1-D tensor of integers in [0, {limit})")
        return codes.to(self.device)

    @torch.no_grad()
    def render(self, child: torch.Tensor, parent: torch.Tensor | None = None,
               z: torch.Tensor | None = None, background: torch.Tensor | None = None) -> FineGANOutput:
        """The generator's full output (images in [-1, 1]) for the given codes."""
        child = self._check_codes(child, self.num_classes, "child")
        parent = (parent_of(child, self.num_classes, self.num_parents) if parent is None
                  else self._check_codes(parent, self.num_parents, "parent"))
        background = parent if background is None else self._check_codes(background, self.num_parents,
                                                                          "background")
        if z is None:
            z = torch.randn(child.shape[0], self.config.z_dim)
        z = z.to(self.device, torch.float32)
        if z.shape != (child.shape[0], self.config.z_dim):
            raise UserError(f"z must have shape ({child.shape[0]}, {self.config.z_dim}), got {tuple(z.shape)}")
        return self.generator(z, child, parent, background)

    def generate(self, child: torch.Tensor, parent: torch.Tensor | None = None,
                 z: torch.Tensor | None = None) -> torch.Tensor:
        return to_unit(self.render(child, parent, z).image)

    def _encode(self, images: torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise UserError(f"images must be (N, 3, H, W), got {tuple(images.shape)}")
        x = to_signed(resize_images(images.to(self.device, torch.float32), self.config.image_size))
        return self.encoders(x)

    @torch.no_grad()
    def cluster(self, images: torch.Tensor) -> Clusters:
        encoded = self._encode(images)
        return Clusters(child=encoded.child_logits.argmax(1).cpu(), parent=encoded.parent_logits.argmax(1).cpu())

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """Encode, regenerate with (ĉ, p̂, b̂ = p̂, ẑ = μ_z), return the regenerated foreground mask."""
        encoded = self._encode(images)
        child = encoded.child_logits.argmax(1)
        parent = encoded.parent_logits.argmax(1)
        mask = self.generator(encoded.z_mean, child, parent, parent).foreground_mask
        mask = F.interpolate(mask, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return mask.clamp(0.0, 1.0).cpu()


def load(checkpoint: Path, device: str | None = None) -> FineGANMethod:
    dev = pick_device(device)
    state = load_checkpoint(checkpoint, NAME, map_location=dev)
    config = FineGANConfig.from_dict(state["config"])
    meta = state["meta"]
    generator = FineGANGenerator(config, meta["num_classes"], meta["num_parents"]).to(dev)
    generator.load_state_dict(state["generator"])
    encoders = BaselineEncoders.from_config_dict(state["encoder_model"]).to(dev)
    encoders.load_state_dict(state["encoders"])
    return FineGANMethod(config, meta, generator, encoders, dev, state)
