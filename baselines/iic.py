"""IIC-cluster baseline: Invariant Information Clustering (Ji, Henriques, Vedaldi, ICCV 2019), trained
from scratch on the prepared object images (Table 2's "IIC-cluster" row).

Network Φ: a VGG-style CNN trunk, global average pooling, and two kinds of linear softmax heads:
the clustering head with k = NC outputs and the overclustering head with k = ``overcluster_factor``·NC
(IIC §3.3: the auxiliary overclustering head helps learn finer features). Each head has
``subheads`` independent copies (the paper uses 5 and keeps the one with the lowest loss).
Training step: an image batch x and a transformed copy g(x) (random crop, flip, colour jitter), the
IIC loss -I(z, z') (``baselines.iic_loss``, Eq. 3) averaged over the sub-heads of the head trained
at this step; heads alternate every ``head_period`` steps (the paper alternates per epoch).
``cluster(images)`` = argmax of the best clustering sub-head (no parent level: ``parent`` is None).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from baselines.augment import colour_jitter, random_flip, random_resized_crop
from baselines.cnn_blocks import vgg_stage
from baselines.iic_loss import iic_loss
from baselines.object_tensors import load_object_tensors, resize_images
from baselines.sample_sheets import cluster_sheets
from baselines.single_loop import start_run
from core.contract import Clusters, Method, TrainRequest
from core.training_run import pick_device, read_checkpoint, restore_modules

NAME = "iic"


@dataclass(frozen=True)
class IICConfig:
    image_size: int = 32
    widths: tuple[int, ...] = (16, 32, 64)
    overcluster_factor: int = 5
    subheads: int = 1
    batch_size: int = 64
    steps: int = 500
    lr: float = 1e-3
    head_period: int = 1
    crop_min_scale: float = 0.7
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.0
    loss_ema: float = 0.95
    checkpoint_every: int = 250
    sample_every: int = 100     # TensorBoard sheet: fixed training images by their cluster now (0: none)


PRESETS = {
    "smoke": IICConfig(image_size=32, widths=(8, 16), batch_size=32, steps=12, checkpoint_every=5, sample_every=4),
    "tiny": IICConfig(),
    # IIC's own settings: 5 sub-heads, Adam 1e-4, long training; a deeper trunk at 64 px.
    "paper": IICConfig(image_size=64, widths=(64, 128, 256, 512), subheads=5, batch_size=256, steps=100_000,
                       lr=1e-4, head_period=1, checkpoint_every=2_000, sample_every=2_000),
}


class ClusteringNet(nn.Module):
    """Trunk + {"main": k=NC, "over": k=factor·NC} linear softmax heads, each with sub-heads."""

    def __init__(self, config: IICConfig, num_classes: int) -> None:
        super().__init__()
        stages, in_channels = [], 3
        for width in config.widths:
            stages.append(vgg_stage(in_channels, width, pool=True))
            in_channels = width
        self.trunk = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        sizes = {"main": num_classes, "over": config.overcluster_factor * num_classes}
        self.heads = nn.ModuleDict({
            head: nn.ModuleList(nn.Linear(in_channels, k) for _ in range(config.subheads))
            for head, k in sizes.items()
        })

    def forward(self, images: torch.Tensor, head: str = "main") -> list[torch.Tensor]:
        """Soft assignments (N, k) of every sub-head of ``head``; images in [0, 1]."""
        features = self.trunk(images * 2.0 - 1.0)
        return [sub(features).softmax(dim=1) for sub in self.heads[head]]


class IICClusterer(Method):
    name = NAME
    tasks = frozenset({"cluster"})

    def __init__(self, net: ClusteringNet, config: IICConfig, num_classes: int, num_parents: int,
                 subhead: int, device: torch.device) -> None:
        self.net = net.to(device).eval()
        self.config = config
        self.num_classes, self.num_parents = num_classes, num_parents
        self.subhead = subhead
        self.device = device

    @torch.no_grad()
    def cluster_probabilities(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        out = []
        for start in range(0, images.shape[0], batch):
            chunk = resize_images(images[start:start + batch].to(self.device).float(), self.config.image_size)
            out.append(self.net(chunk, "main")[self.subhead].cpu())
        return torch.cat(out)

    def cluster(self, images: torch.Tensor) -> Clusters:
        return Clusters(child=self.cluster_probabilities(images).argmax(dim=1).long(), parent=None)


def _pair_views(images: torch.Tensor, config: IICConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """x (randomly mirrored) and g(x) (crop + flip + colour jitter) for an IIC pair."""
    original, _ = random_flip(images)
    transformed = random_resized_crop(images, config.crop_min_scale)
    transformed, _ = random_flip(transformed)
    transformed = colour_jitter(transformed, config.brightness, config.contrast, config.saturation, config.hue)
    return original, transformed


def train(request: TrainRequest) -> Path:
    begun = start_run(request, PRESETS, NAME)
    config, run, payload, device = begun.config, begun.run, begun.payload, begun.device
    images = load_object_tensors(begun.prepared, config.image_size).images.to(device)
    net = ClusteringNet(config, begun.prepared.num_classes).to(device).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    restore_modules(payload, {"model": net, "optimizer": optimiser})
    loss_ema = torch.zeros(config.subheads) if payload is None else payload["loss_ema"]
    run.restore(payload)

    def step(i: int) -> dict[str, float]:
        head = "main" if (i // config.head_period) % 2 == 0 else "over"
        index = torch.randint(len(images), (config.batch_size,), device=device)
        x, gx = _pair_views(images[index].float().div_(255.0), config)
        losses = [iic_loss(z, z_paired) for z, z_paired in zip(net(x, head), net(gx, head), strict=True)]
        loss = torch.stack(losses).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if head == "main":
            current = torch.tensor([v.item() for v in losses])
            loss_ema.copy_(current if i == 0 else config.loss_ema * loss_ema + (1 - config.loss_ema) * current)
        return {f"loss_{head}": loss.item()}

    def state() -> dict:
        return {"model": net.state_dict(), "optimizer": optimiser.state_dict(), "loss_ema": loss_ema,
                "best_subhead": int(loss_ema.argmin())}

    def cluster_of(index: torch.Tensor) -> torch.Tensor:
        """The main head's clusters, by the sub-head of the lowest loss so far (the one ``load`` keeps)."""
        return net(images[index.to(device)].float().div(255.0), "main")[int(loss_ema.argmin())].argmax(dim=1)

    samples = cluster_sheets(images, cluster_of, seed=run.seed, every=config.sample_every, modules=[net])
    return begun.train(config.steps, step, state, config.checkpoint_every, samples)


def load(checkpoint: Path, device: str | None = None) -> IICClusterer:
    payload = read_checkpoint(checkpoint, NAME)
    config = IICConfig(**{**payload["config"], "widths": tuple(payload["config"]["widths"])})
    net = ClusteringNet(config, payload["num_classes"])
    net.load_state_dict(payload["model"])
    return IICClusterer(net, config, payload["num_classes"], payload["num_parents"],
                        payload["best_subhead"], pick_device(device))
