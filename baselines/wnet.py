"""WNet baseline: "W-Net: a deep model for fully unsupervised image segmentation" (Xia & Kulis, 2017),
trained from scratch on the prepared object images (Table 2's "WNet" row).

Networks (W-Net §3): two U-Nets. The encoder U_Enc maps an image X to a K-way per-pixel softmax
U_Enc(X) (the segmentation); the decoder U_Dec maps that softmax back to an image. Each U-Net is a
contracting and an expanding path of modules (two 3x3 convolutions, each followed by ReLU and batch
normalisation); the first and last modules use plain convolutions, the others depthwise separable
ones (a 3x3 depthwise then a 1x1 pointwise convolution); 2x2 max-pooling down, 2x2 stride-2
transposed convolutions up, skip connections across; a 1x1 convolution at the end (K channels and a
softmax for U_Enc, 3 channels for U_Dec). A training step (W-Net Algorithm 1) updates U_Enc alone by
the soft normalised cut, then the whole W-Net by reconstruction:

    J_soft-Ncut(V, K) = K - Σ_k [Σ_u p_k(u) Σ_v w(u, v) p_k(v)] / [Σ_u p_k(u) Σ_t w(u, t)]     (W-Net Eq. 4)
    w(u, v) = exp(-|F(u) - F(v)|² / σ_I²) · exp(-|X(u) - X(v)|² / σ_X²)  if |X(u) - X(v)| < r, else 0
    J_reconstr = || X - U_Dec(U_Enc(X)) ||²  (mean over pixels and channels)

with p_k(u) = U_Enc(X)_k at pixel u, F(u) the brightness (mean of R, G, B on the 0-255 scale, so
that σ_I = 10 means 10 grey levels) and X(u) the pixel position; r = 5, σ_I = 10, σ_X = 4 (the values
the paper takes from Shi & Malik, as its public reimplementations do). ``soft_ncut_loss`` sums over
the (2r-1)² window's offsets with |offset| < r instead of forming the (HW)² matrix W.

**Foreground mask.** OneGAN §4: "ReDO and WNet produce a foreground mask". The paper preset takes
K = 2 (a foreground and a background class; W-Net's own BSDS experiments over-segment and merge
instead). The classes are unordered, so ``segment`` applies the fixed "border background" rule of
``baselines.label_maps`` to the argmax map: per image, the class covering most of the outer pixel ring
is the background; the mask is 1 - p(that class) (soft). ``segment_labels`` returns the argmax map,
which the benchmark also scores with the paper's § oracle (for K = 2 it equals the swap-invariant score).

**Left out.** W-Net's post-processing for BSDS (a fully connected CRF, then hierarchical merging of
the over-segmentation by an ultrametric contour map) turns K over-segments into a region hierarchy
scored by boundary/region metrics; it does not make a foreground mask, and with K = 2 there is nothing
to merge. OneGAN does not say it used either; neither is implemented here.

Presets: ``paper`` is W-Net's training setting (SGD, lr 0.003, batch 10, r/σ_I/σ_X as above, the
paper's "dropout 0.65" read as TensorFlow's keep probability, i.e. p_drop = 0.35; widths 64-1024)
on the prepared 128 px crops (W-Net trained at 224 px). W-Net's schedule ("divided by 10 every 1000
epochs", 50000 epochs on 12k images) is not reproducible as printed; the preset runs 50000 steps at a
constant lr. ``tiny``/``smoke`` are small widths with Adam for the CPU budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from baselines.label_maps import dominant_border_label
from baselines.object_tensors import load_object_tensors, resize_images
from baselines.sample_sheets import segmentation_sheets
from baselines.single_loop import start_run
from core.contract import SEGMENT_LABELS, Method, TrainRequest
from core.errors import UserError
from core.training_run import (
    pick_device,
    read_checkpoint,
)

NAME = "wnet"
BRIGHTNESS_SCALE = 255.0  # F(u) in grey levels, the scale σ_I is given in


@dataclass(frozen=True)
class WNetConfig:
    image_size: int = 32
    classes: int = 2                         # K
    widths: tuple[int, ...] = (16, 32, 64)   # channels per U-Net level (W-Net: 64 ... 1024)
    dropout: float = 0.0
    radius: int = 5                          # r
    sigma_intensity: float = 10.0            # σ_I, grey levels
    sigma_position: float = 4.0              # σ_X, pixels
    batch_size: int = 16
    steps: int = 400
    optimiser: Literal["sgd", "adam"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    border: int = 1                          # foreground rule: border ring width (input pixels)
    checkpoint_every: int = 200
    sample_every: int = 100                  # TensorBoard sheet: fixed images, masks, reconstructions (0: none)

    def __post_init__(self) -> None:
        levels = len(self.widths)
        if self.classes < 2 or levels < 1 or self.image_size % 2 ** (levels - 1):
            raise UserError(f"{NAME}: K >= 2 and an image size divisible by 2^(levels-1) needed; got {self}")
        if self.optimiser not in ("sgd", "adam"):
            raise UserError(f"{NAME}: optimiser must be sgd or adam, got {self.optimiser!r}")


PRESETS = {
    "smoke": WNetConfig(image_size=16, widths=(8, 16), batch_size=8, steps=6, checkpoint_every=3, sample_every=3),
    "tiny": WNetConfig(),
    "paper": WNetConfig(image_size=128, widths=(64, 128, 256, 512, 1024), dropout=0.35, batch_size=10,
                        steps=50_000, optimiser="sgd", lr=0.003, checkpoint_every=2_000, sample_every=2_000),
}


def ncut_offsets(radius: int) -> list[tuple[int, int]]:
    """The pixel offsets (dy, dx) with sqrt(dy² + dx²) < r, (0, 0) included (w(u, u) = 1)."""
    return [(dy, dx) for dy in range(-radius + 1, radius) for dx in range(-radius + 1, radius)
            if dy * dy + dx * dx < radius * radius]


def soft_ncut_loss(probs: torch.Tensor, images: torch.Tensor, radius: int = 5, sigma_intensity: float = 10.0,
                   sigma_position: float = 4.0) -> torch.Tensor:
    """J_soft-Ncut of W-Net Eq. 4, mean over the batch. probs (N, K, H, W) sum to 1 over K; images
    (N, 3, H, W) in [0, 1]."""
    n, k, height, width = probs.shape
    brightness = images.mean(dim=1) * BRIGHTNESS_SCALE
    r = radius - 1   # the largest |dy| or |dx| of an offset
    padded_f = F.pad(brightness, (r, r, r, r))
    padded_p = F.pad(probs, (r, r, r, r))
    inside = F.pad(torch.ones_like(brightness), (r, r, r, r))   # 0 where v falls off the image
    association = probs.new_zeros(n, k)
    degree = probs.new_zeros(n, k)
    for dy, dx in ncut_offsets(radius):
        window = (slice(None), slice(r + dy, r + dy + height), slice(r + dx, r + dx + width))
        weight = torch.exp(-(brightness - padded_f[window]) ** 2 / sigma_intensity ** 2
                           - (dy * dy + dx * dx) / sigma_position ** 2) * inside[window]   # w(u, u + offset)
        weighted = probs * weight[:, None]
        association = association + (weighted * padded_p[:, :, window[1], window[2]]).sum(dim=(2, 3))
        degree = degree + weighted.sum(dim=(2, 3))
    return (k - (association / degree.clamp_min(1e-12)).sum(dim=1)).mean()


def _conv(cin: int, cout: int, separable: bool) -> nn.Module:
    if not separable:
        return nn.Conv2d(cin, cout, 3, padding=1)
    return nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1, groups=cin), nn.Conv2d(cin, cout, 1))


class ConvModule(nn.Sequential):
    """One W-Net module: (3x3 conv -> ReLU -> BN) twice, then dropout."""

    def __init__(self, cin: int, cout: int, separable: bool, dropout: float) -> None:
        super().__init__(_conv(cin, cout, separable), nn.ReLU(inplace=True), nn.BatchNorm2d(cout),
                         _conv(cout, cout, separable), nn.ReLU(inplace=True), nn.BatchNorm2d(cout),
                         nn.Dropout2d(dropout) if dropout > 0 else nn.Identity())


class UNet(nn.Module):
    """A W-Net half: contracting and expanding modules with skips, then a 1x1 convolution."""

    def __init__(self, cin: int, cout: int, widths: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        levels = len(widths)
        self.down = nn.ModuleList(ConvModule(cin if i == 0 else widths[i - 1], widths[i], separable=i > 0,
                                         dropout=dropout) for i in range(levels))
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                for i in reversed(range(levels - 1)))
        self.merge = nn.ModuleList(ConvModule(2 * widths[i], widths[i], separable=i > 0, dropout=dropout)
                                   for i in reversed(range(levels - 1)))
        self.out = nn.Conv2d(widths[0], cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, module in enumerate(self.down):
            x = module(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1]), strict=True):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.out(x)


class WNetModel(nn.Module):
    def __init__(self, config: WNetConfig) -> None:
        super().__init__()
        self.encoder = UNet(3, config.classes, config.widths, config.dropout)
        self.decoder = UNet(config.classes, 3, config.widths, config.dropout)

    def segmentation(self, images: torch.Tensor) -> torch.Tensor:
        """U_Enc(X): (N, K, H, W) softmax."""
        return self.encoder(images * 2.0 - 1.0).softmax(dim=1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs = self.segmentation(images)
        return probs, self.decoder(probs)


class WNetSegmenter(Method):
    name = NAME
    tasks = frozenset({"segment", SEGMENT_LABELS})

    def __init__(self, model: WNetModel, config: WNetConfig, num_classes: int, num_parents: int,
                 device: torch.device) -> None:
        self.model, self.config, self.device = model.to(device).eval(), config, device
        self.num_classes, self.num_parents = num_classes, num_parents

    @torch.no_grad()
    def class_probabilities(self, images: torch.Tensor, batch: int = 128) -> torch.Tensor:
        """U_Enc's softmax (N, K, H, W) at the input's resolution."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise UserError(f"{NAME}: images must be (N, 3, H, W); got shape {tuple(images.shape)}")
        height, width = images.shape[-2:]
        out = []
        for start in range(0, images.shape[0], batch):
            chunk = resize_images(images[start:start + batch].to(self.device).float(), self.config.image_size)
            probs = F.interpolate(self.model.segmentation(chunk), size=(height, width), mode="bilinear",
                                  align_corners=False)
            out.append(probs.cpu())
        return torch.cat(out) if out else torch.zeros(0, self.config.classes, height, width)

    def segment_labels(self, images: torch.Tensor) -> torch.Tensor:
        return self.class_probabilities(images).argmax(dim=1)

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        probs = self.class_probabilities(images)
        background = dominant_border_label(probs.argmax(dim=1), self.config.border)
        return 1.0 - probs.gather(1, background[:, None, None, None].expand(-1, 1, *probs.shape[-2:]))


def train(request: TrainRequest) -> Path:
    begun = start_run(request, PRESETS, NAME)
    config, prepared, run, payload, device = begun.config, begun.prepared, begun.run, begun.payload, begun.device
    objects = load_object_tensors(prepared, config.image_size)
    images = objects.images.to(device)
    model = WNetModel(config).to(device).train()

    def optimiser_of(params) -> torch.optim.Optimizer:
        if config.optimiser == "sgd":
            return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
        return torch.optim.Adam(params, lr=config.lr)

    # Algorithm 1: the N-cut updates U_Enc only; reconstruction updates the whole W-Net.
    encoder_optimiser, whole_optimiser = optimiser_of(model.encoder.parameters()), optimiser_of(model.parameters())
    if payload is not None:
        model.load_state_dict(payload["model"])
        encoder_optimiser.load_state_dict(payload["encoder_optimizer"])
        whole_optimiser.load_state_dict(payload["whole_optimizer"])
    run.restore(payload)

    def step(i: int) -> dict[str, float]:
        x = images[torch.randint(len(images), (config.batch_size,), device=device)].float().div_(255.0)
        ncut = soft_ncut_loss(model.segmentation(x), x, config.radius, config.sigma_intensity, config.sigma_position)
        encoder_optimiser.zero_grad(set_to_none=True)
        ncut.backward()
        encoder_optimiser.step()
        reconstruction = F.mse_loss(model(x)[1], x)
        whole_optimiser.zero_grad(set_to_none=True)
        reconstruction.backward()
        whole_optimiser.step()
        return {"ncut": ncut.item(), "reconstruction": reconstruction.item()}

    def state() -> dict:
        return {"model": model.state_dict(), "encoder_optimizer": encoder_optimiser.state_dict(),
                "whole_optimizer": whole_optimiser.state_dict()}

    def mask_and_reconstruction_rows(x: torch.Tensor) -> list[torch.Tensor]:
        """The foreground mask ``segment`` gives (border rule) and U_Dec(U_Enc(X)), the reconstruction."""
        probs, reconstruction = model(x)
        background = dominant_border_label(probs.argmax(dim=1), config.border)
        mask = 1.0 - probs.gather(1, background[:, None, None, None].expand(-1, 1, *probs.shape[-2:]))
        return [mask, reconstruction.clamp(0.0, 1.0)]

    samples = segmentation_sheets(objects, mask_and_reconstruction_rows, seed=run.seed,
                                  every=config.sample_every, modules=[model], device=device)
    return begun.train(config.steps, step, state, config.checkpoint_every, samples)


def load(checkpoint: Path, device: str | None = None) -> WNetSegmenter:
    payload = read_checkpoint(checkpoint, NAME)
    config = WNetConfig(**{**payload["config"], "widths": tuple(payload["config"]["widths"])})
    model = WNetModel(config)
    model.load_state_dict(payload["model"])
    return WNetSegmenter(model, config, payload["num_classes"], payload["num_parents"], pick_device(device))
