"""ReDO baseline: unsupervised object segmentation by ReDrawing (Chen, Artières, Denoyer, NeurIPS 2019),
trained from scratch on the prepared object images (Table 2's "ReDO" row).

Networks (ReDO §3, with K = 2 regions):
- mask network F: image I -> K soft region masks M_k(I) (softmax over regions, per pixel);
- one region generator G_k per region: noise z_k and the masks -> a new picture for region k
  (here the masks enter every generator scale by concatenation; our choice of conditioning);
- discriminator D on the recomposed image, hinge loss with spectral normalisation (as ReDO);
- information-conservation encoder δ: recomposed image -> ẑ_k.
A training step picks a region k per image and redraws it (ReDO Eq. 2):

    I' = M_k(I) ⊙ G_k(z_k, M(I)) + (1 - M_k(I)) ⊙ I,

D learns real I vs redrawn I'; F, G_k and δ minimise the generator hinge loss -D(I') plus
λ_z · ||δ_k(I') - z_k||² (information conservation: a region the generator can redraw freely must
show where its noise went, which rules out empty or all-covering masks). ``area_weight`` adds a
small hinge keeping each region's mean area >= ``min_area`` (our addition to steady very short
runs; 0 disables it).

``segment`` returns M_1 (region 1). The regions are unordered, so the benchmark's swap-invariant
scoring max(IoU(M_1), IoU(1 - M_1)) per image is the right score, as in ReDO's paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from baselines.cnn_blocks import conv_bn_relu
from baselines.object_tensors import load_object_tensors, resize_images
from baselines.sample_sheets import fixed_generator, segmentation_sheets
from baselines.single_loop import start_run
from core.contract import Method, TrainRequest
from core.training_run import pick_device, read_checkpoint, restore_modules

NAME = "redo"
REGIONS = 2


@dataclass(frozen=True)
class ReDOConfig:
    image_size: int = 32
    mask_width: int = 8
    generator_width: int = 16
    discriminator_width: int = 16
    z_dim: int = 16
    batch_size: int = 32
    steps: int = 600
    lr_mask: float = 1e-4
    lr: float = 2e-4
    z_weight: float = 5.0
    min_area: float = 0.1
    area_weight: float = 1.0
    checkpoint_every: int = 250
    sample_every: int = 100         # TensorBoard sheet of fixed images, masks and redrawings (0: none)


PRESETS = {
    "smoke": ReDOConfig(mask_width=8, generator_width=8, discriminator_width=8, batch_size=8, steps=10,
                        checkpoint_every=5, sample_every=5),
    "tiny": ReDOConfig(),
    # ReDO's CUB setting: 128 px, batch 32, Adam lr 1e-4 (F) / 2e-4 (G, D), λ_z = 5.
    "paper": ReDOConfig(image_size=128, mask_width=32, generator_width=64, discriminator_width=64, z_dim=32,
                        lr_mask=1e-4, lr=2e-4, batch_size=32,
                        steps=40_000, area_weight=0.0, checkpoint_every=2_000, sample_every=2_000),
}


def _down_levels(image_size: int) -> int:
    """Number of 2x stages from the image down to 4x4."""
    return max(1, (image_size // 4).bit_length() - 1)


class MaskNetwork(nn.Module):
    """F: encoder-decoder (two 2x downsamplings) -> K region masks (N, K, H, W) summing to 1."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.encode = nn.Sequential(conv_bn_relu(3, width), nn.MaxPool2d(2), conv_bn_relu(width, 2 * width),
                                    nn.MaxPool2d(2), conv_bn_relu(2 * width, 2 * width, dilation=2))
        self.decode = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv_bn_relu(2 * width, width),
                                    nn.Upsample(scale_factor=2, mode="nearest"), conv_bn_relu(width, width),
                                    nn.Conv2d(width, REGIONS, 3, padding=1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images * 2.0 - 1.0)).softmax(dim=1)


class RegionGenerator(nn.Module):
    """G_k: z (N, z_dim) and the region masks -> an image (N, 3, S, S) in [-1, 1]."""

    def __init__(self, z_dim: int, width: int, image_size: int) -> None:
        super().__init__()
        self.width = width
        self.levels = _down_levels(image_size)
        self.project = nn.Linear(z_dim, 4 * 4 * width)
        self.blocks = nn.ModuleList(
            conv_bn_relu(width + REGIONS, width) for _ in range(self.levels))
        self.to_rgb = nn.Conv2d(width + REGIONS, 3, 3, padding=1)

    def forward(self, z: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.project(z)).view(-1, self.width, 4, 4)
        for block in self.blocks:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = block(torch.cat([x, F.interpolate(masks, size=x.shape[-2:], mode="area")], dim=1))
        x = torch.cat([x, F.interpolate(masks, size=x.shape[-2:], mode="area")], dim=1)
        return torch.tanh(self.to_rgb(x))


class DownsamplingNet(nn.Module):
    """Strided-conv image classifier trunk: D (outputs 1 logit, spectral norm) or δ (outputs K·z_dim)."""

    def __init__(self, width: int, image_size: int, outputs: int, spectral: bool) -> None:
        super().__init__()
        wrap = spectral_norm if spectral else (lambda m: m)
        layers: list[nn.Module] = []
        in_channels = 3
        for level in range(_down_levels(image_size)):
            out_channels = width * min(2 ** level, 4)
            layers += [wrap(nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            in_channels = out_channels
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.head = wrap(nn.Linear(in_channels * 16, outputs))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(images))


class ReDO(nn.Module):
    def __init__(self, config: ReDOConfig) -> None:
        super().__init__()
        self.config = config
        self.mask_network = MaskNetwork(config.mask_width)
        self.generators = nn.ModuleList(RegionGenerator(config.z_dim, config.generator_width, config.image_size)
                                        for _ in range(REGIONS))
        self.discriminator = DownsamplingNet(config.discriminator_width, config.image_size, 1, spectral=True)
        self.z_encoder = DownsamplingNet(config.discriminator_width, config.image_size,
                                         REGIONS * config.z_dim, spectral=False)

    def redraw(self, images: torch.Tensor, region: torch.Tensor, z: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """ReDO Eq. 2 on images in [-1, 1]: (redrawn images, masks)."""
        masks = self.mask_network((images + 1.0) / 2.0)
        region_image = torch.zeros_like(images)
        for k, generator in enumerate(self.generators):  # each image runs only its own region's G_k
            chosen = region == k
            if bool(chosen.any()):
                region_image[chosen] = generator(z[chosen], masks[chosen])
        region_mask = masks.gather(1, region.view(-1, 1, 1, 1).expand(-1, 1, *masks.shape[2:]))
        return region_mask * region_image + (1.0 - region_mask) * images, masks


class ReDOSegmenter(Method):
    name = NAME
    tasks = frozenset({"segment"})

    def __init__(self, model: ReDO, num_classes: int, num_parents: int, device: torch.device) -> None:
        self.model, self.device = model.to(device).eval(), device
        self.num_classes, self.num_parents = num_classes, num_parents

    @torch.no_grad()
    def segment(self, images: torch.Tensor, batch: int = 128) -> torch.Tensor:
        """M_1, region 1's soft mask (N, 1, H, W), at the input resolution."""
        out, size = [], self.model.config.image_size
        for start in range(0, images.shape[0], batch):
            chunk = resize_images(images[start:start + batch].to(self.device).float(), size)
            masks = self.model.mask_network(chunk)[:, 1:2]
            out.append(F.interpolate(masks, size=images.shape[-2:], mode="bilinear", align_corners=False).cpu())
        return torch.cat(out)


def train(request: TrainRequest) -> Path:
    begun = start_run(request, PRESETS, NAME)
    config, run, payload, device = begun.config, begun.run, begun.payload, begun.device
    objects = load_object_tensors(begun.prepared, config.image_size)
    images = objects.images.to(device)
    model = ReDO(config).to(device).train()
    betas = (0.5, 0.999)
    optimise_d = torch.optim.Adam(model.discriminator.parameters(), lr=config.lr, betas=betas)
    optimise_g = torch.optim.Adam([
        {"params": model.mask_network.parameters(), "lr": config.lr_mask},
        {"params": [*model.generators.parameters(), *model.z_encoder.parameters()], "lr": config.lr},
    ], betas=betas)
    restore_modules(payload, {"model": model, "optimizer_d": optimise_d, "optimizer_g": optimise_g})
    run.restore(payload)

    def step(_: int) -> dict[str, float]:
        n = config.batch_size
        real = images[torch.randint(len(images), (n,), device=device)].float().div_(127.5).sub_(1.0)
        flip = torch.rand(n, device=device) < 0.5
        real[flip] = real[flip].flip(-1)
        region = torch.randint(REGIONS, (n,), device=device)
        z = torch.randn(n, config.z_dim, device=device)
        redrawn, masks = model.redraw(real, region, z)
        # Discriminator: hinge loss, real vs redrawn.
        loss_d = (F.relu(1.0 - model.discriminator(real)).mean()
                  + F.relu(1.0 + model.discriminator(redrawn.detach())).mean())
        optimise_d.zero_grad(set_to_none=True)
        loss_d.backward()
        optimise_d.step()
        # Mask network, generators, z encoder: fool D and conserve the redrawn region's noise.
        loss_adv = -model.discriminator(redrawn).mean()
        z_hat = model.z_encoder(redrawn).view(n, REGIONS, config.z_dim)
        z_hat = z_hat.gather(1, region.view(n, 1, 1).expand(-1, 1, config.z_dim)).squeeze(1)
        loss_z = (z_hat - z).pow(2).mean()
        loss_area = F.relu(config.min_area - masks.mean(dim=(2, 3))).mean()
        loss_g = loss_adv + config.z_weight * loss_z + config.area_weight * loss_area
        optimise_g.zero_grad(set_to_none=True)
        loss_g.backward()
        optimise_g.step()
        return {"d": loss_d.item(), "adv": loss_adv.item(), "z": loss_z.item()}

    def state() -> dict:
        return {"model": model.state_dict(), "optimizer_d": optimise_d.state_dict(),
                "optimizer_g": optimise_g.state_dict()}

    def mask_and_redrawn_rows(x: torch.Tensor) -> list[torch.Tensor]:
        """M_1, then each image with region 1 redrawn (Eq. 2) from fixed noise of the sheet's own."""
        z = torch.randn(x.shape[0], config.z_dim, generator=fixed_generator(run.seed)).to(device)
        region = torch.ones(x.shape[0], dtype=torch.long, device=device)
        redrawn, masks = model.redraw(x * 2.0 - 1.0, region, z)
        return [masks[:, 1:2], (redrawn + 1.0) / 2.0]

    samples = segmentation_sheets(objects, mask_and_redrawn_rows, seed=run.seed, every=config.sample_every,
                                  modules=[model], device=device)
    return begun.train(config.steps, step, state, config.checkpoint_every, samples)


def load(checkpoint: Path, device: str | None = None) -> ReDOSegmenter:
    payload = read_checkpoint(checkpoint, NAME)
    model = ReDO(ReDOConfig(**payload["config"]))
    model.load_state_dict(payload["model"])
    return ReDOSegmenter(model, payload["num_classes"], payload["num_parents"], pick_device(device))
