"""IIC-seg baseline: per-pixel Invariant Information Clustering (Ji et al. 2019, §3.2), trained from
scratch on the prepared object images (Table 2's "IIC-seg" rows).

Network Φ: a fully convolutional VGG-style trunk (two 2x poolings, then dilated convolutions) with
two 1x1-convolution softmax heads: the main head with ``classes`` per-pixel outputs (2 here:
object / background) and an overclustering head with ``overcluster_classes`` outputs. A training
pair is x and g(x) = colour-jitter(flip(x)); the output on g(x) is un-flipped (g^{-1}) so pixel u
pairs with pixel u + t of the other view for every displacement t in a (2r+1)² window
(``baselines.iic_loss.iic_seg_loss``, IIC Eq. 5). Heads alternate every ``head_period`` steps.

**Which class is the foreground.** IIC's classes are unordered. The paper scored IIC-seg with an
oracle (the best class against the ground truth, "§ upper bound"); that oracle is the benchmark's
swap-invariant scoring option: with 2 classes, max(IoU(m), IoU(1 - m)) picks the better class per
image. Label-free default, ``foreground_rule="border"``: after training, the class whose mean
probability on the outer ring of pixels (``border`` output pixels wide) over the training images is
the lowest is the foreground for every image (objects sit in the middle of a FineGAN crop and rarely
cover its border). ``foreground_rule="border-per-image"`` applies the same rule image by image.
:meth:`IICSegmenter.class_probabilities` returns all classes (N, k, H, W) for other rules.

**The paper's § for IIC-seg.** OneGAN §4 scored the COCO-stuff IIC models with its oracle over the 15
classes of one head ("the best class for either background or foreground in respect to IOU"). Here the
main head has 2 classes, where that oracle is exactly the swap-invariant score above
(``iou_swap_invariant``); the analogue of the paper's 15-way output is the overclustering head
(``overcluster_classes``: 15 at the paper preset), so :meth:`IICSegmenter.segment_labels` returns that
head's argmax, which the benchmark scores with the § oracle (``iou_oracle`` / ``dice_oracle``, a § row).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from baselines.augment import colour_jitter, random_flip, unflip
from baselines.cnn_blocks import vgg_stage
from baselines.iic_loss import iic_seg_loss
from baselines.object_tensors import load_object_tensors, resize_images
from baselines.sample_sheets import segmentation_sheets
from baselines.single_loop import start_run
from core.contract import SEGMENT_LABELS, Method, TrainRequest
from core.errors import UserError
from core.training_run import pick_device, read_checkpoint, restore_modules

NAME = "iic-seg"
ForegroundRule = Literal["border", "border-per-image"]


@dataclass(frozen=True)
class IICSegConfig:
    image_size: int = 32
    widths: tuple[int, int, int] = (16, 32, 32)
    classes: int = 2
    overcluster_classes: int = 8
    radius: int = 1
    batch_size: int = 32
    steps: int = 400
    lr: float = 1e-3
    head_period: int = 1
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.05
    border: int = 1
    checkpoint_every: int = 200
    sample_every: int = 100         # TensorBoard sheet of fixed images and their masks (0: none)


PRESETS = {
    "smoke": IICSegConfig(widths=(8, 8, 8), batch_size=8, steps=10, checkpoint_every=5, sample_every=5),
    "tiny": IICSegConfig(),
    # IIC-seg on its segmentation benchmarks: 128 px inputs, wider trunk, T window of side 2r+1 = 21
    # at full output resolution (here the output is 1/4 of the input, so r = 3).
    "paper": IICSegConfig(image_size=128, widths=(64, 128, 256), overcluster_classes=15, radius=3,
                          batch_size=32, steps=60_000, lr=1e-4, checkpoint_every=2_000, sample_every=2_000),
}


class PixelClusteringNet(nn.Module):
    """Fully convolutional Φ: per-pixel softmax maps at 1/4 of the input resolution."""

    def __init__(self, config: IICSegConfig) -> None:
        super().__init__()
        w1, w2, w3 = config.widths
        self.trunk = nn.Sequential(vgg_stage(3, w1, pool=True), vgg_stage(w1, w2, pool=True),
                                   vgg_stage(w2, w3, pool=False, dilation=2))
        self.heads = nn.ModuleDict({"main": nn.Conv2d(w3, config.classes, 1),
                                    "over": nn.Conv2d(w3, config.overcluster_classes, 1)})

    def forward(self, images: torch.Tensor, head: str = "main") -> torch.Tensor:
        return self.heads[head](self.trunk(images * 2.0 - 1.0)).softmax(dim=1)


def border_share(probs: torch.Tensor, border: int) -> torch.Tensor:
    """Mean probability of each class on the outer ring ``border`` pixels wide: (N, k)."""
    ring = torch.ones(probs.shape[-2:], dtype=torch.bool, device=probs.device)
    ring[border:-border, border:-border] = False
    return probs[:, :, ring].mean(dim=2)


class IICSegmenter(Method):
    name = NAME
    tasks = frozenset({"segment", SEGMENT_LABELS})

    def __init__(self, net: PixelClusteringNet, config: IICSegConfig, foreground_class: int,
                 num_classes: int, num_parents: int, device: torch.device,
                 foreground_rule: ForegroundRule = "border") -> None:
        if foreground_rule not in ("border", "border-per-image"):
            raise UserError(f"iic-seg: unknown foreground_rule {foreground_rule!r}")
        self.net, self.config, self.device = net.to(device).eval(), config, device
        self.foreground_class, self.foreground_rule = foreground_class, foreground_rule
        self.num_classes, self.num_parents = num_classes, num_parents

    @torch.no_grad()
    def class_probabilities(self, images: torch.Tensor, batch: int = 128, head: str = "main") -> torch.Tensor:
        """Per-pixel class probabilities (N, k, H, W) of ``head`` ("main" or "over") at the input resolution."""
        out = []
        height, width = images.shape[-2:]
        for start in range(0, images.shape[0], batch):
            chunk = resize_images(images[start:start + batch].to(self.device).float(), self.config.image_size)
            probs = F.interpolate(self.net(chunk, head), size=(height, width), mode="bilinear",
                                  align_corners=False)
            out.append(probs.cpu())
        return torch.cat(out)

    def segment_labels(self, images: torch.Tensor) -> torch.Tensor:
        """The overclustering head's argmax (N, H, W): the multi-class map the paper's § oracle searches."""
        return self.class_probabilities(images, head="over").argmax(dim=1)

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        probs = self.class_probabilities(images)
        if self.foreground_rule == "border":
            return probs[:, self.foreground_class:self.foreground_class + 1]
        scale = max(1, round(images.shape[-1] / (self.config.image_size // 4)))
        chosen = border_share(probs, self.config.border * scale).argmin(dim=1)
        return probs.gather(1, chosen[:, None, None, None].expand(-1, 1, *probs.shape[-2:]))


def train(request: TrainRequest) -> Path:
    begun = start_run(request, PRESETS, NAME)
    config, run, payload, device = begun.config, begun.run, begun.payload, begun.device
    objects = load_object_tensors(begun.prepared, config.image_size)
    images = objects.images.to(device)
    net = PixelClusteringNet(config).to(device).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    restore_modules(payload, {"model": net, "optimizer": optimiser})
    run.restore(payload)

    def step(i: int) -> dict[str, float]:
        head = "main" if (i // config.head_period) % 2 == 0 else "over"
        index = torch.randint(len(images), (config.batch_size,), device=device)
        x = images[index].float().div_(255.0)
        flipped_x, flipped = random_flip(x)
        gx = colour_jitter(flipped_x, config.brightness, config.contrast, config.saturation, config.hue)
        loss = iic_seg_loss(net(x, head), unflip(net(gx, head), flipped), config.radius)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return {f"loss_{head}": loss.item()}

    @torch.no_grad()
    def foreground_class() -> int:
        net.eval()
        shares = torch.cat([border_share(net(images[s:s + 256].float().div(255.0)), config.border)
                            for s in range(0, len(images), 256)])
        net.train()
        return int(shares.mean(dim=0).argmin())

    def state() -> dict:
        return {"model": net.state_dict(), "optimizer": optimiser.state_dict(),
                "foreground_class": foreground_class()}

    def foreground_row(x: torch.Tensor) -> list[torch.Tensor]:
        """The main head's foreground probability, the class picked per image by the border rule."""
        probs = net(x)
        chosen = border_share(probs, config.border).argmin(dim=1)
        foreground = probs.gather(1, chosen[:, None, None, None].expand(-1, 1, *probs.shape[-2:]))
        return [F.interpolate(foreground, size=x.shape[-2:], mode="bilinear", align_corners=False)]

    samples = segmentation_sheets(objects, foreground_row, seed=run.seed, every=config.sample_every,
                                  modules=[net], device=device)
    return begun.train(config.steps, step, state, config.checkpoint_every, samples)


def load(checkpoint: Path, device: str | None = None, foreground_rule: ForegroundRule = "border"
         ) -> IICSegmenter:
    payload = read_checkpoint(checkpoint, NAME)
    config = IICSegConfig(**{**payload["config"], "widths": tuple(payload["config"]["widths"])})
    net = PixelClusteringNet(config)
    net.load_state_dict(payload["model"])
    return IICSegmenter(net, config, payload["foreground_class"], payload["num_classes"],
                        payload["num_parents"], pick_device(device), foreground_rule)
