"""UISB baseline: "Unsupervised image segmentation by backpropagation" (Kanezaki, ICASSP 2018), Table 2's
"UISB§" row.

Per image, a small CNN starts from random weights and is optimised against its own argmax labels:

    y = argmax_c f(x)_c                      (per pixel, over p = ``channels`` outputs)
    y' = superpixel majority of y            (every SLIC superpixel takes its most frequent label)
    minimise  CE(f(x), y')                   (SGD, lr 0.1, momentum 0.9)

for ``iterations`` steps or until y holds at most ``min_labels`` distinct labels; the image's
segmentation is the argmax of f after the last step (so 2 to p labels, unordered). f is the author's
``MyNet``: ``convs`` blocks of 3x3 convolution -> ReLU -> BatchNorm (p channels), then a 1x1
convolution -> BatchNorm; BatchNorm uses the image's own statistics (training mode throughout, as in
the author's code). Settings are those of the author's public PyTorch code (kanezaki/
pytorch-unsupervised-segmentation, ``demo.py``: nChannel 100, nConv 2, lr 0.1, momentum 0.9,
minLabels 3, num_superpixels 10000, compactness 100) with OneGAN's 50 iterations per image (OneGAN
§4: "We iterated UISB on each image 50 times"). Differences, all immaterial to the method: SLIC gets
the RGB image (the author's code hands OpenCV's BGR array to ``rgb2lab``), and images are optimised
``batch`` at a time as independent networks (grouped convolutions: per-image weights, BatchNorm
statistics, SGD state and stopping), which gives each image what a run of its own would.

Reproducible per image: its network's initial weights are drawn from a generator seeded by the run's
seed and the image's own pixels (8-bit), so an image gets the same labels whatever batch it is in.

Nothing is learnt across images: ``train`` writes a checkpoint holding the configuration (resuming is
trivial), ``segment_labels`` runs the per-image optimisation, and ``segment`` reduces the label map to
a foreground mask with the fixed "border background" rule (``baselines.label_maps``). The benchmark
scores the label map with the paper's § oracle too (``benchmark.metrics.oracle``), as Table 2 did.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage.segmentation import slic

from baselines.label_maps import border_background_foreground
from baselines.object_tensors import resize_images
from baselines.single_loop import start_run
from core.contract import SEGMENT_LABELS, Method, TrainRequest
from core.errors import UserError
from core.training_run import (
    pick_device,
    read_checkpoint,
)

NAME = "uisb"
BATCH_NORM_EPS = 1e-5


@dataclass(frozen=True)
class UISBConfig:
    image_size: int | None = None   # side the optimisation runs at (None: the input's own)
    channels: int = 100             # p: response channels = the most labels an image can get
    convs: int = 2                  # M: 3x3 conv -> ReLU -> BN blocks (the author's nConv)
    iterations: int = 50            # T: steps per image (OneGAN: 50; the author's maxIter: 1000)
    min_labels: int = 3             # stop once the argmax holds this many labels or fewer
    lr: float = 0.1
    momentum: float = 0.9
    superpixels: int = 10_000       # SLIC n_segments
    compactness: float = 100.0      # SLIC compactness
    border: int = 1                 # foreground rule: border ring width at the input's resolution
    batch: int = 64                 # images optimised together (independent networks)

    def __post_init__(self) -> None:
        if self.channels < 2 or self.convs < 1 or self.iterations < 1 or self.min_labels < 1:
            raise UserError(f"{NAME}: channels >= 2, convs, iterations and min_labels >= 1 needed; got {self}")


PRESETS = {
    "smoke": UISBConfig(image_size=16, channels=8, iterations=5, superpixels=30, batch=32),
    # The synthetic world at 32 px with 16 channels: ~1 s per 64 images on one CPU thread. About 10 px
    # per superpixel, near the author's BSDS500 setting (154k px / 10000 superpixels).
    "tiny": UISBConfig(image_size=32, channels=16, superpixels=100),
    # The author's demo.py defaults and OneGAN's 50 iterations, on the prepared 128 px crops.
    "paper": UISBConfig(),
}


def image_seeds(images: torch.Tensor, seed: int) -> list[int]:
    """One 64-bit seed per image from the run's seed and the image's 8-bit pixels."""
    pixels = (images.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    return [int.from_bytes(hashlib.blake2b(seed.to_bytes(8, "little", signed=True) + p.tobytes(),
                                           digest_size=8).digest(), "little") for p in pixels]


def _layer_shapes(config: UISBConfig) -> list[tuple[int, int, int]]:
    """(in channels, out channels, kernel) of MyNet's convolutions, in order."""
    p = config.channels
    return [(3, p, 3)] + [(p, p, 3)] * (config.convs - 1) + [(p, p, 1)]


def init_networks(config: UISBConfig, seeds: list[int], device: torch.device) -> list[torch.Tensor]:
    """Per-image MyNet parameters stacked for grouped convolution: per layer weight (n*out, in, k, k),
    bias, BN weight, BN bias. Weights and biases as ``nn.Conv2d``'s default (uniform within
    1/sqrt(fan_in)), BN weight 1 and bias 0, each image from its own generator."""
    weights: list[list[torch.Tensor]] = [[] for _ in _layer_shapes(config)]
    biases: list[list[torch.Tensor]] = [[] for _ in _layer_shapes(config)]
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        for i, (cin, cout, k) in enumerate(_layer_shapes(config)):
            bound = 1.0 / (cin * k * k) ** 0.5
            weights[i].append((torch.rand(cout, cin, k, k, generator=generator) * 2 - 1) * bound)
            biases[i].append((torch.rand(cout, generator=generator) * 2 - 1) * bound)
    params = []
    for w, b in zip(weights, biases, strict=True):
        cout = w[0].shape[0] * len(seeds)
        params += [torch.cat(w), torch.cat(b), torch.ones(cout), torch.zeros(cout)]
    return [p.to(device).requires_grad_(True) for p in params]


def responses(x: torch.Tensor, params: list[torch.Tensor], config: UISBConfig) -> torch.Tensor:
    """MyNet on n images at once: x (n, 3, H, W) -> responses (n, p, H, W)."""
    n, _, height, width = x.shape
    h = x.reshape(1, n * 3, height, width)
    layers = len(_layer_shapes(config))
    for i in range(layers):
        weight, bias, bn_weight, bn_bias = params[4 * i:4 * i + 4]
        h = F.conv2d(h, weight, bias, padding=weight.shape[-1] // 2, groups=n)
        if i < layers - 1:   # the 1x1 output convolution has no ReLU
            h = F.relu(h)
        h = F.batch_norm(h, None, None, bn_weight, bn_bias, training=True, eps=BATCH_NORM_EPS)
    return h.reshape(n, config.channels, height, width)


def superpixel_labels(images: torch.Tensor, config: UISBConfig) -> torch.Tensor:
    """SLIC superpixels (n, H*W) int64, numbered across the batch (image i's ids follow image i-1's)."""
    out, offset = [], 0
    for image in images.detach().cpu().permute(0, 2, 3, 1).double().numpy():
        segments = slic(image, n_segments=config.superpixels, compactness=config.compactness, start_label=0,
                        channel_axis=-1)
        out.append(torch.from_numpy(segments.reshape(-1).astype(np.int64)) + offset)
        offset += int(segments.max()) + 1
    return torch.stack(out)


def superpixel_majority(target: torch.Tensor, superpixels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """y': every superpixel takes the most frequent label of ``target`` inside it (ties: the smaller
    label, as the author's ``np.unique`` + ``argmax``). Shapes (n, P); superpixel ids unique per batch."""
    key = (superpixels * num_labels + target).reshape(-1)
    pairs, counts = torch.unique(key, return_counts=True)
    segment, label = pairs // num_labels, pairs % num_labels
    size = int(superpixels.max()) + 1
    best = torch.zeros(size, dtype=counts.dtype, device=key.device).scatter_reduce(0, segment, counts, "amax")
    winners = counts == best[segment]
    majority = torch.full((size,), num_labels, dtype=label.dtype, device=key.device)
    majority = majority.scatter_reduce(0, segment[winners], label[winners], "amin")
    return majority[superpixels]


def label_counts(target: torch.Tensor, num_labels: int) -> torch.Tensor:
    """(n,) number of distinct labels per row of ``target`` (n, P)."""
    present = torch.zeros(target.shape[0], num_labels, dtype=torch.bool, device=target.device)
    return present.scatter_(1, target, True).sum(dim=1)


def optimise_labels(images: torch.Tensor, config: UISBConfig, seed: int) -> torch.Tensor:
    """UISB on a batch of images (n, 3, H, W) in [0, 1], each independently: label maps (n, H, W) int64."""
    n, _, height, width = images.shape
    x = images.detach().float().clone()
    params = init_networks(config, image_seeds(images, seed), x.device)
    optimiser = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    superpixels = superpixel_labels(x, config).to(x.device)
    final = torch.full((n, height * width), -1, dtype=torch.long, device=x.device)
    running = torch.ones(n, dtype=torch.bool, device=x.device)
    stopping = torch.zeros(n, dtype=torch.bool, device=x.device)  # reached min_labels at the last step
    for _ in range(config.iterations):
        out = responses(x, params, config).flatten(2)               # (n, p, P)
        target = out.max(dim=1).indices   # (max is faster than argmax over a non-last dim on CPU)
        # an image that stopped at the previous step keeps this forward's argmax: the network after its
        # last update, as the author's final forward pass
        final[stopping] = target[stopping]
        running &= ~stopping
        if not running.any():
            break
        stopping = running & (label_counts(target, config.channels) <= config.min_labels)
        refined = superpixel_majority(target, superpixels, config.channels)
        loss = F.cross_entropy(out, refined, reduction="none").mean(dim=1)   # per image, as its own run
        optimiser.zero_grad(set_to_none=True)
        loss[running].sum().backward()
        optimiser.step()
    unfinished = final[:, 0] < 0
    if unfinished.any():
        with torch.no_grad():
            final[unfinished] = responses(x, params, config).flatten(2).argmax(dim=1)[unfinished]
    return final.reshape(n, height, width)


class UISBSegmenter(Method):
    name = NAME
    tasks = frozenset({"segment", SEGMENT_LABELS})

    def __init__(self, config: UISBConfig, seed: int, num_classes: int, num_parents: int,
                 device: torch.device) -> None:
        self.config, self.seed, self.device = config, seed, device
        self.num_classes, self.num_parents = num_classes, num_parents
        self._last: tuple[bytes, torch.Tensor] | None = None  # the last batch's label maps

    def segment_labels(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise UserError(f"{NAME}: images must be (N, 3, H, W); got shape {tuple(images.shape)}")
        if images.numel() and (images.min() < 0 or images.max() > 1):
            raise UserError(f"{NAME}: images must lie in [0, 1]; got [{images.min():.3g}, {images.max():.3g}]")
        # The benchmark asks for a batch's mask (segment) and then its labels: optimise once.
        key = hashlib.blake2b(images.detach().float().cpu().numpy().tobytes(), digest_size=16).digest()
        if self._last is not None and self._last[0] == key:
            return self._last[1].clone()
        height, width = images.shape[-2:]
        out = []
        # inference tensors (the benchmark scores under inference_mode) cannot be differentiated
        with torch.inference_mode(False), torch.enable_grad():
            for start in range(0, images.shape[0], self.config.batch):
                chunk = images[start:start + self.config.batch].to(self.device).float().clone()
                if self.config.image_size is not None and self.config.image_size != height:
                    chunk = resize_images(chunk, self.config.image_size).clamp_(0, 1)
                labels = optimise_labels(chunk, self.config, self.seed)
                labels = F.interpolate(labels[:, None].float(), size=(height, width), mode="nearest-exact")
                out.append(labels[:, 0].long().cpu())
        result = torch.cat(out) if out else torch.zeros(0, height, width, dtype=torch.long)
        self._last = (key, result)
        return result.clone()

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return border_background_foreground(self.segment_labels(images), self.config.border)


def train(request: TrainRequest) -> Path:
    """Nothing to learn across images: the checkpoint records the configuration, seed and data."""
    begun = start_run(request, PRESETS, NAME, seed=False)   # nothing is drawn at training time
    begun.run.restore(begun.payload)
    return begun.train(0, lambda i: {}, dict, 1)


def load(checkpoint: Path, device: str | None = None) -> UISBSegmenter:
    payload = read_checkpoint(checkpoint, NAME)
    return UISBSegmenter(UISBConfig(**payload["config"]), int(payload["seed"]), payload["num_classes"],
                         payload["num_parents"], pick_device(device))
