"""DEPICT: deep embedded regularized clustering (Ghasedi Dizaji, Herandi, Deng, Cai & Huang, ICCV 2017),
trained from scratch on the prepared object images (Table 2's "DEPICT" row).

Model (paper §3; facts from the authors' Theano code, ``herandy/DEPICT``):

- a convolutional denoising autoencoder: encoder conv(k₁, stride 2) → conv(k₂, stride 2) → dense to a
  K-dimensional tanh embedding z (K = NC, as the authors set the last feature-map size to the number of
  clusters), LeakyReLU(0.01) between; the decoder mirrors it (dense → two transposed convs, tanh
  output). The *noisy* pathway drops out the input and the first conv's output (p = 0.1), the *clean*
  pathway does not; reconstruction loss = Σ over the input, conv₁ and conv₂ levels of the mean squared
  error between the noisy decoder's output and the clean encoder's activation (weights 1, 0.1, 0.1;
  the clean targets are held fixed, as the authors' clean-path targets are meant);
- a soft-max clustering head on z: q_ik = softmax_k(θ_kᵀ z_i + b_k);
- objective: KL(P ‖ Q) + KL(f ‖ u) with f_k = (1/N) Σ_i p_ik and a uniform prior u (the class-balance
  term). Its stationarity condition in P is p_ik ∝ q_ik / f_k; with f_k approximated from Q the paper
  (Eq. 7-8) takes
      p_ik = (q_ik / (Σ_i' q_i'k)^½) / Σ_k' (q_ik' / (Σ_i' q_i'k')^½);
  the authors' code uses q_ik² / Σ_i' q_i'k instead (DEC's form; ``target="code"``). P is fixed for
  an epoch, computed from the clean pathway's Q; the network minimises the cross-entropy
  −(1/N) Σ p_ik log q̃_ik of the noisy pathway (= KL(P ‖ Q̃) + const) plus the reconstruction loss.

Schedule (one run step = one epoch): ``pretrain_epochs`` of the autoencoder alone; then k-means on the
clean embeddings initialises the head (θ_k = centroid_k / ‖centroid_k‖, b = 0, as the authors do) and
``init_epochs`` train on the k-means labels (cross-entropy) plus reconstruction; then ``cluster_epochs``
of the KL objective, stopping early once P changes by less than ``tolerance`` (mean squared).
Adam, lr 1e-4, batch 100; inputs scaled to [-1, 1].

``cluster(images)`` = argmax of the clean Q. Parents: the child clusters merged by
``baselines.agglomeration.parents_of_clusters`` on the clean embeddings down to NP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from torch import nn

from baselines.agglomeration import parents_of_clusters
from baselines.object_tensors import load_object_tensors, resize_images
from baselines.sample_sheets import cluster_sheets
from baselines.single_loop import start_run
from core.contract import Clusters, Method, TrainRequest
from core.errors import UserError
from core.training_run import (
    pick_device,
    read_checkpoint,
)

NAME = "depict"
TARGETS = ("paper", "code")


@dataclass(frozen=True)
class DEPICTConfig:
    image_size: int = 32
    channels: tuple[int, int] = (50, 50)
    kernels: tuple[int, int] = (4, 5)
    input_dropout: float = 0.1
    hidden_dropout: float = 0.1
    hidden_weight: float = 0.1        # weight of the conv-level reconstruction terms
    reconstruction_weight: float = 1.0
    cluster_weight: float = 1.0
    batch_size: int = 100
    lr: float = 1e-4
    pretrain_epochs: int = 50
    init_epochs: int = 10
    cluster_epochs: int = 50
    tolerance: float = 1e-7           # stop when mean((P - P_prev)²) falls below
    target: str = "paper"
    kmeans_init: int = 10             # k-means restarts on the embeddings
    checkpoint_every: int = 10
    sample_every: int = 5             # TensorBoard sheet every N epochs once clustering began (0: none)

    @property
    def total_epochs(self) -> int:
        return self.pretrain_epochs + self.init_epochs + self.cluster_epochs


PRESETS = {
    "smoke": DEPICTConfig(image_size=16, channels=(8, 8), batch_size=32, pretrain_epochs=2, init_epochs=1,
                          cluster_epochs=2, kmeans_init=2, checkpoint_every=2, sample_every=1),
    # 32 feature maps and 30 epochs in all keep a run near two minutes on one CPU thread; Adam at 1e-3
    # (the authors' 1e-4 is for thousands of epochs)
    "tiny": DEPICTConfig(channels=(32, 32), lr=1e-3, pretrain_epochs=15, init_epochs=3, cluster_epochs=12),
    # The authors' settings (Adam 1e-4, batch 100, 50/50 feature maps) on FineGAN's 1.5x-bbox crops at
    # 128 px; they train up to 4000 epochs with early stopping, here fixed budgets with the P-change stop.
    "paper": DEPICTConfig(image_size=128, pretrain_epochs=500, init_epochs=50, cluster_epochs=1000,
                          kmeans_init=40, sample_every=50),
}


def target_distribution(q: torch.Tensor, rule: str = "paper") -> torch.Tensor:
    """DEPICT's auxiliary target P (N, K) from soft assignments Q (N, K): the paper's
    p_ik ∝ q_ik / (Σ_i q_ik)^½, or the authors' code's p_ik ∝ q_ik² / Σ_i q_ik; rows sum to 1."""
    frequency = q.sum(dim=0, keepdim=True)
    if rule == "paper":
        p = q / frequency.sqrt()
    elif rule == "code":
        p = q.pow(2) / frequency
    else:
        raise UserError(f"depict: unknown target rule {rule!r}; choose one of {TARGETS}")
    return p / p.sum(dim=1, keepdim=True)


def depict_objective(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(P ‖ Q) + KL(f ‖ u), both averaged over the N samples as in the paper's Eq. 5."""
    n, k = p.shape
    kl_pq = (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum() / n
    f = p.mean(dim=0)
    kl_fu = (f * (f.clamp_min(1e-12).log() + np.log(k))).sum()
    return kl_pq + kl_fu


def _conv_out(side: int, kernel: int) -> int:
    return (side + 2 * (kernel // 2) - kernel) // 2 + 1


class DEPICTNet(nn.Module):
    """Convolutional denoising autoencoder with a soft-max clustering head (images in [-1, 1])."""

    def __init__(self, config: DEPICTConfig, num_clusters: int) -> None:
        super().__init__()
        c1, c2 = config.channels
        k1, k2 = config.kernels
        self.config = config
        self.conv1 = nn.Conv2d(3, c1, k1, stride=2, padding=k1 // 2)
        self.conv2 = nn.Conv2d(c1, c2, k2, stride=2, padding=k2 // 2)
        s1 = _conv_out(config.image_size, k1)
        s2 = _conv_out(s1, k2)
        if s2 < 1:
            raise UserError(f"depict: {config.image_size} px images are too small for kernels {config.kernels}")
        self.shape2 = (c2, s2, s2)
        self.encode_dense = nn.Linear(c2 * s2 * s2, num_clusters)
        self.decode_dense = nn.Linear(num_clusters, c2 * s2 * s2)
        self.deconv2 = nn.ConvTranspose2d(c2, c1, k2, stride=2, padding=k2 // 2,
                                          output_padding=s1 - ((s2 - 1) * 2 - 2 * (k2 // 2) + k2))
        self.deconv1 = nn.ConvTranspose2d(c1, 3, k1, stride=2, padding=k1 // 2,
                                          output_padding=config.image_size - ((s1 - 1) * 2 - 2 * (k1 // 2) + k1))
        self.head = nn.Linear(num_clusters, num_clusters)

    def encode(self, x: torch.Tensor, noisy: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(h1, h2, z): conv₁ and conv₂ activations and the tanh embedding."""
        cfg = self.config
        x = F.dropout(x, cfg.input_dropout, training=noisy)
        h1 = F.leaky_relu(self.conv1(x), 0.01)
        h2 = F.leaky_relu(self.conv2(F.dropout(h1, cfg.hidden_dropout, training=noisy)), 0.01)
        z = torch.tanh(self.encode_dense(h2.flatten(1)))
        return h1, h2, z

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x̂, ĥ1, ĥ2): reconstructions of the input and of the two conv activations."""
        h2 = F.leaky_relu(self.decode_dense(z), 0.01).view(-1, *self.shape2)
        h1 = F.leaky_relu(self.deconv2(h2), 0.01)
        return torch.tanh(self.deconv1(h1)), h1, h2

    def assignments(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z).softmax(dim=1)

    def reconstruction_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, noisy embedding): the three-level denoising loss of one batch."""
        with torch.no_grad():
            clean1, clean2, _ = self.encode(x, noisy=False)
        _, _, z = self.encode(x, noisy=True)
        x_hat, h1_hat, h2_hat = self.decode(z)
        w = self.config.hidden_weight
        loss = F.mse_loss(x_hat, x) + w * F.mse_loss(h1_hat, clean1) + w * F.mse_loss(h2_hat, clean2)
        return loss, z


class DEPICTClusterer(Method):
    name = NAME
    tasks = frozenset({"cluster"})

    def __init__(self, net: DEPICTNet, parent_of_cluster: torch.Tensor, num_classes: int, num_parents: int,
                 device: torch.device) -> None:
        self.net = net.to(device).eval()
        self.parent_of_cluster = parent_of_cluster.to(device)
        self.num_classes, self.num_parents, self.device = num_classes, num_parents, device

    @torch.no_grad()
    def cluster_probabilities(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        out = []
        for start in range(0, images.shape[0], batch):
            x = resize_images(images[start:start + batch].to(self.device).float(), self.net.config.image_size)
            out.append(self.net.assignments(self.net.encode(x * 2.0 - 1.0, noisy=False)[2]))
        return torch.cat(out)

    def cluster(self, images: torch.Tensor) -> Clusters:
        child = self.cluster_probabilities(images).argmax(dim=1)
        return Clusters(child=child.cpu(), parent=self.parent_of_cluster[child].cpu())


@torch.no_grad()
def _clean_pass(net: DEPICTNet, images: torch.Tensor, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, q) of every image through the clean pathway. ``images`` already in [-1, 1] at the net's size."""
    zs, qs = [], []
    for start in range(0, len(images), batch):
        z = net.encode(images[start:start + batch], noisy=False)[2]
        zs.append(z)
        qs.append(net.assignments(z))
    return torch.cat(zs), torch.cat(qs)


def train(request: TrainRequest) -> Path:
    begun = start_run(request, PRESETS, NAME)
    config, prepared, run, payload, device = begun.config, begun.prepared, begun.run, begun.payload, begun.device
    if config.target not in TARGETS:
        raise UserError(f"depict: unknown target rule {config.target!r}; choose one of {TARGETS}")
    k = prepared.num_classes
    raw = load_object_tensors(prepared, prepared.size).images
    images = torch.cat([resize_images(raw[s:s + 256].float().div(255.0), config.image_size)
                        for s in range(0, len(raw), 256)]).mul_(2.0).sub_(1.0).to(device)
    net = DEPICTNet(config, k).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    state = {"kmeans_labels": None, "target": None, "converged": False, "parent_of_cluster": None}
    if payload is not None:
        net.load_state_dict(payload["model"])
        optimiser.load_state_dict(payload["optimizer"])
        state.update({key: payload[key] for key in state})
    run.restore(payload)

    def initialise_head() -> None:
        z, _ = _clean_pass(net, images)
        kmeans = KMeans(n_clusters=k, n_init=config.kmeans_init, random_state=request.seed).fit(z.cpu().numpy())
        centroids = torch.as_tensor(kmeans.cluster_centers_, dtype=torch.float32, device=device)
        with torch.no_grad():
            net.head.weight.copy_(centroids / centroids.norm(dim=1, keepdim=True).clamp_min(1e-12))
            net.head.bias.zero_()
        state["kmeans_labels"] = torch.as_tensor(kmeans.labels_, dtype=torch.long)

    def update_target() -> float:
        """P from the clean Q; returns the mean squared change from the previous P."""
        _, q = _clean_pass(net, images)
        p = target_distribution(q, config.target).cpu()
        previous = state["target"]
        state["target"] = p
        return float("inf") if previous is None else float((p - previous).pow(2).mean())

    def epoch(phase: str) -> dict[str, float]:
        net.train()
        order = torch.randperm(len(images), device=device)
        totals = {"reconstruction": 0.0, "cluster": 0.0}
        batches = 0
        for start in range(0, len(order), config.batch_size):
            index = order[start:start + config.batch_size]
            reconstruction, z = net.reconstruction_loss(images[index])
            loss = config.reconstruction_weight * reconstruction
            if phase != "pretrain":
                log_q = net.head(z).log_softmax(dim=1)
                if phase == "init":
                    cluster = F.nll_loss(log_q, state["kmeans_labels"].to(device)[index])
                else:
                    cluster = -(state["target"].to(device)[index] * log_q).sum(1).mean()
                loss = loss + config.cluster_weight * cluster
                totals["cluster"] += cluster.item()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            totals["reconstruction"] += reconstruction.item()
            batches += 1
        net.eval()
        return {key: value / max(batches, 1) for key, value in totals.items()}

    def step(i: int) -> dict[str, float]:
        if i < config.pretrain_epochs:
            losses = epoch("pretrain")
        elif i < config.pretrain_epochs + config.init_epochs:
            if state["kmeans_labels"] is None:
                initialise_head()
            losses = epoch("init")
        else:
            if state["kmeans_labels"] is None:      # no init epochs configured
                initialise_head()
            losses = {}
            if not state["converged"]:
                change = update_target()
                state["converged"] = change < config.tolerance
                if not state["converged"]:
                    losses = epoch("cluster")
                losses["target_change"] = min(change, 1e9)
        if i == config.total_epochs - 1:
            finish()
        return losses

    def finish() -> None:
        z, q = _clean_pass(net, images)
        child = q.argmax(dim=1).cpu().numpy()
        state["parent_of_cluster"] = torch.from_numpy(
            parents_of_clusters(z.cpu().numpy(), child, k, prepared.num_parents))

    def checkpoint_state() -> dict:
        return {"model": net.state_dict(), "optimizer": optimiser.state_dict(), **state}

    def cluster_of(index: torch.Tensor) -> torch.Tensor | None:
        """argmax Q of the clean pathway; None while pretraining (the head is not initialised yet)."""
        return None if state["kmeans_labels"] is None else _clean_pass(net, images[index.to(device)])[1].argmax(1)

    if config.total_epochs < 1:
        raise UserError("depict: the preset trains for 0 epochs")
    samples = cluster_sheets(raw, cluster_of, seed=run.seed, every=config.sample_every, modules=[net])
    return begun.train(config.total_epochs, step, checkpoint_state, config.checkpoint_every, samples)


def load(checkpoint: Path, device: str | None = None) -> DEPICTClusterer:
    payload = read_checkpoint(checkpoint, NAME)
    if payload.get("parent_of_cluster") is None:
        raise UserError(f"{checkpoint}: DEPICT has not finished training (rerun training to resume it)")
    raw = payload["config"]
    config = DEPICTConfig(**{**raw, "channels": tuple(raw["channels"]), "kernels": tuple(raw["kernels"])})
    net = DEPICTNet(config, payload["num_classes"])
    net.load_state_dict(payload["model"])
    return DEPICTClusterer(net, payload["parent_of_cluster"], payload["num_classes"], payload["num_parents"],
                           pick_device(device))
