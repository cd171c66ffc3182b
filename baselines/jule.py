"""JULE: joint unsupervised learning of deep representations and image clusters (Yang, Parikh & Batra,
CVPR 2016), trained from scratch on the prepared object images (Table 2's "JULE" row).

Recurrent framework (paper §3; facts from the authors' Torch code, ``jwyang/JULE.torch``):

- period 0: initial clusters from the raw pixels (each image joined to its nearest neighbour, see
  ``baselines.agglomeration``), then ``epochs_per_period`` epochs of CNN updates;
- every later period: embed all images with the CNN, build the K_s-NN graph on the L2-normalised
  embeddings, merge ⌈η · (clusters)⌉ times (the partial unrolling, η = merging rate; never past the
  target NC), then CNN updates on the new labels — unless the target is reached, which ends the
  recurrent process; the last period merges down to NC whatever η says;
- CNN update: the weighted triplet loss over mini-batches, L = mean max(0, γ‖f_a − f_p‖² − ‖f_a − f_n‖² + m)
  for every pair (a, p) of one cluster in the batch and ``negatives`` images n of other clusters per
  pair; SGD with momentum and the "inv" learning-rate policy lr_t = lr · (1 + 1e-4 t)^-0.75;
- CNN: [conv 5×5 (no padding) → BatchNorm → ReLU → max-pool 2 (ceil)] × stages, 50 channels, a linear
  layer to a 160-d embedding, L2 normalisation (the authors' ``models_def``).

``cluster(images)``: JULE has no classifier: an image gets the cluster of its nearest training
embedding (so the training images keep exactly the clusters agglomeration gave them). Parents: the
child clusters merged on, by the same agglomeration (``baselines.agglomeration.parents_of_clusters``),
down to NP: JULE's own hierarchy continued one level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.agglomeration import agglomerate, initial_clusters, knn_graph, parents_of_clusters, relabel
from baselines.object_tensors import load_object_tensors, resize_images
from baselines.sample_sheets import cluster_sheets
from baselines.single_loop import start_run
from core.contract import Clusters, Method, TrainRequest
from core.errors import UserError
from core.training_run import (
    pick_device,
    read_checkpoint,
)

NAME = "jule"


@dataclass(frozen=True)
class JULEConfig:
    image_size: int = 32
    stages: int = 2                # conv-BN-ReLU-pool stages (the authors use 2 for 32 px, more for larger)
    channels: int = 50
    embedding_dim: int = 160
    k_s: int = 20                  # K_s: neighbours of the sample graph
    k_c: int = 5                   # K_c: clusters in the merge criterion
    a: float = 1.0                 # σ² = a · mean squared K_s-NN distance
    lam: float = 1.0               # λ of the merge criterion
    eta: float = 0.9               # merging rate of the partial unrolling
    periods: int = 6               # the last one merges down to NC
    epochs_per_period: int = 20
    batch_size: int = 100
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-5
    lr_gamma: float = 1e-4         # "inv" policy: lr · (1 + gamma · t)^-power
    lr_power: float = 0.75
    margin: float = 0.2            # m of the triplet loss
    positive_weight: float = 1.0   # γ of the triplet loss
    negatives: int = 20            # negatives per positive pair
    checkpoint_every: int = 1
    sample_every: int = 1          # TensorBoard sheet after every period: the largest clusters (0: none)


PRESETS = {
    "smoke": JULEConfig(image_size=16, stages=1, channels=8, embedding_dim=16, periods=2, epochs_per_period=1,
                        batch_size=32, negatives=4),
    "tiny": JULEConfig(periods=4, epochs_per_period=3),
    # The authors' settings (η = 0.9, K_s = 20, K_c = 5, 20 epochs per period, batch 100, SGD 0.01)
    # on FineGAN's 1.5x-bbox crops at 128 px: four conv stages (128 -> 62 -> 29 -> 13 -> 5 px).
    "paper": JULEConfig(image_size=128, stages=4, periods=20, epochs_per_period=20),
}


class JULENet(nn.Module):
    """[conv5 → BN → ReLU → max-pool 2] × stages → linear → L2-normalised embedding. Images in [0, 1]."""

    def __init__(self, config: JULEConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels, side = 3, config.image_size
        for _ in range(config.stages):
            layers += [nn.Conv2d(in_channels, config.channels, 5), nn.BatchNorm2d(config.channels),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True)]
            in_channels, side = config.channels, math.ceil((side - 4) / 2)
        if side < 1:
            raise UserError(f"jule: {config.stages} conv stages do not fit {config.image_size} px images")
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.project = nn.Linear(in_channels * side * side, config.embedding_dim)
        for module in self.modules():   # the authors' initialisation: N(0, 0.01) weights, zero biases
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.project(self.trunk(images)), dim=1)


def triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, negatives: int, margin: float,
                 positive_weight: float, generator: torch.Generator | None = None) -> torch.Tensor | None:
    """JULE's weighted triplet loss on one mini-batch: every pair (a, p), a before p, of one cluster,
    each with ``negatives`` distinct images n of other clusters drawn uniformly from the batch (fewer
    when the batch has fewer); mean over triplets of max(0, γ‖a − p‖² − ‖a − n‖² + m). None when the
    batch has no positive pair or no negative."""
    same = labels[:, None] == labels[None, :]
    anchor, positive = torch.triu(same, diagonal=1).nonzero(as_tuple=True)
    if anchor.numel() == 0:
        return None
    others = ~same[anchor]                                    # candidate negatives of each pair
    per_pair = min(negatives, int(others.sum(1).min()))
    if per_pair == 0:
        return None
    # distinct negatives per pair: the top-k of random keys restricted to the candidates
    keys = torch.rand(others.shape, generator=generator, device=others.device).masked_fill_(~others, -1.0)
    negative = keys.topk(per_pair, dim=1).indices             # (pairs, per_pair)
    a, p = embeddings[anchor], embeddings[positive]
    d_pos = (a - p).pow(2).sum(1, keepdim=True)               # (pairs, 1)
    d_neg = (a[:, None, :] - embeddings[negative]).pow(2).sum(2)   # (pairs, per_pair)
    return F.relu(positive_weight * d_pos - d_neg + margin).mean()


class JULEClusterer(Method):
    name = NAME
    tasks = frozenset({"cluster"})

    def __init__(self, net: JULENet, config: JULEConfig, embeddings: torch.Tensor, labels: torch.Tensor,
                 parent_of_cluster: torch.Tensor, num_classes: int, num_parents: int, device: torch.device) -> None:
        self.net = net.to(device).eval()
        self.config, self.device = config, device
        self.embeddings, self.labels = embeddings.to(device), labels.to(device)
        self.parent_of_cluster = parent_of_cluster.to(device)
        self.num_classes, self.num_parents = num_classes, num_parents

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        out = []
        for start in range(0, images.shape[0], batch):
            chunk = resize_images(images[start:start + batch].to(self.device).float(), self.config.image_size)
            out.append(self.net(chunk))
        return torch.cat(out)

    def cluster(self, images: torch.Tensor) -> Clusters:
        embedded = self.embed(images)
        nearest = torch.cdist(embedded, self.embeddings).argmin(dim=1)
        child = self.labels[nearest]
        return Clusters(child=child.cpu(), parent=self.parent_of_cluster[child].cpu())


@torch.no_grad()
def _embed_all(net: JULENet, images: torch.Tensor, size: int, batch: int = 256) -> torch.Tensor:
    net.eval()
    out = [net(resize_images(images[s:s + batch].float().div(255.0), size)) for s in range(0, len(images), batch)]
    net.train()
    return torch.cat(out)


def train(request: TrainRequest) -> Path:
    begun = start_run(request, PRESETS, NAME)
    config, prepared, run, payload, device = begun.config, begun.prepared, begun.run, begun.payload, begun.device
    if config.periods < 2 or not 0.0 < config.eta <= 1.0:
        # period 0 only initialises the clusters, so merging needs at least one more
        raise UserError(f"jule: periods must be >= 2 and eta in (0, 1], got {config.periods}, {config.eta}")
    images = load_object_tensors(prepared, prepared.size).images.to(device)    # uint8 (N, 3, S, S)
    net = JULENet(config).to(device).train()
    optimiser = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    state = {"labels": torch.zeros(0, dtype=torch.long), "sgd_step": 0, "finished": False,
             "embeddings": None, "parent_of_cluster": None}
    if payload is not None:
        net.load_state_dict(payload["model"])
        optimiser.load_state_dict(payload["optimizer"])
        state.update({key: payload[key] for key in state})
    run.restore(payload)
    target = prepared.num_classes

    def merge(period: int) -> None:
        if period == 0:
            pixels = resize_images(images.float().div(255.0), config.image_size).flatten(1)
            features = F.normalize(pixels, dim=1).cpu().numpy()
            _, neighbours = knn_graph(features, config.k_s, config.a)
            state["labels"] = torch.from_numpy(initial_clusters(neighbours))
            return
        features = _embed_all(net, images, config.image_size).cpu().numpy()
        labels = state["labels"].numpy()
        clusters = int(labels.max()) + 1
        last = period == config.periods - 1
        merges = None if last else math.ceil(config.eta * clusters)
        state["labels"] = torch.from_numpy(agglomerate(features, labels, target, merges=merges, k_s=config.k_s,
                                                       k_c=config.k_c, a=config.a, lam=config.lam))

    def cnn_epoch() -> float:
        labels = state["labels"].to(device)
        order = torch.randperm(len(images), device=device)
        losses = []
        for start in range(0, len(order), config.batch_size):
            index = order[start:start + config.batch_size]
            batch = resize_images(images[index].float().div_(255.0), config.image_size)
            loss = triplet_loss(net(batch), labels[index], config.negatives, config.margin, config.positive_weight)
            lr = config.lr * (1.0 + config.lr_gamma * state["sgd_step"]) ** -config.lr_power
            for group in optimiser.param_groups:
                group["lr"] = lr
            state["sgd_step"] += 1
            if loss is None:
                continue
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        return float(np.mean(losses)) if losses else 0.0

    def step(period: int) -> dict[str, float]:
        loss = 0.0
        if not state["finished"]:
            merge(period)
            clusters = int(state["labels"].max()) + 1
            state["finished"] = clusters <= target or period == config.periods - 1
            if not state["finished"]:
                for _ in range(config.epochs_per_period):
                    loss = cnn_epoch()
        if period == config.periods - 1:
            finish()
        return {"clusters": float(int(state["labels"].max()) + 1), "triplet": loss}

    def finish() -> None:
        """Embeddings of the training images (for nearest-neighbour assignment) and the parents."""
        embeddings = _embed_all(net, images, config.image_size)
        labels = relabel(state["labels"].numpy())
        state["labels"] = torch.from_numpy(labels)
        lookup = parents_of_clusters(embeddings.cpu().numpy(), labels, int(labels.max()) + 1,
                                     prepared.num_parents, k_s=config.k_s, k_c=config.k_c, a=config.a)
        state["embeddings"], state["parent_of_cluster"] = embeddings.cpu(), torch.from_numpy(lookup)

    def checkpoint_state() -> dict:
        return {"model": net.state_dict(), "optimizer": optimiser.state_dict(), **state}

    def cluster_of(index: torch.Tensor) -> torch.Tensor | None:
        labels = state["labels"]
        return labels[index] if labels.numel() == len(images) else None

    samples = cluster_sheets(images, cluster_of, seed=run.seed, every=config.sample_every, modules=[])
    return begun.train(config.periods, step, checkpoint_state, config.checkpoint_every, samples)


def load(checkpoint: Path, device: str | None = None) -> JULEClusterer:
    payload = read_checkpoint(checkpoint, NAME)
    if payload.get("embeddings") is None:
        raise UserError(f"{checkpoint}: JULE has not finished training (rerun training to resume it)")
    config = JULEConfig(**payload["config"])
    net = JULENet(config)
    net.load_state_dict(payload["model"])
    return JULEClusterer(net, config, payload["embeddings"], payload["labels"], payload["parent_of_cluster"],
                         payload["num_classes"], payload["num_parents"], pick_device(device))
