"""The random draws of one training iteration, keyed by global sample index.

Every draw (child codes φ_c, z, mixup β's, VAE ε) is made for the whole global batch from one
generator seeded by (seed, iteration), in the same order on every process, and each process keeps
its own rows. So sample i of iteration t gets the same randomness whether one process holds the
whole batch or W processes hold a slice each: the draws are a few kilobytes, cheaper than
seeding a generator per sample.
"""

from __future__ import annotations

import torch

from onegan.config import ModelConfig
from onegan.mixup import MixupWeights, sample_mixup_weights


def iteration_seed(seed: int, iteration: int) -> int:
    """Seed of iteration ``iteration``'s draws (independent of the process)."""
    return (seed * 1_000_003 + iteration) % (2 ** 63)


class GlobalBatchDraws:
    """Draws for iteration ``iteration`` of a run, restricted to this process's rows
    ``rank·local_batch ... (rank+1)·local_batch - 1`` of the global batch."""

    def __init__(self, seed: int, iteration: int, rank: int, local_batch: int, world_size: int,
                 device: torch.device | str = "cpu") -> None:
        # On the CPU whatever the device: the same values on CPU and CUDA, and no device sync.
        self.generator = torch.Generator().manual_seed(iteration_seed(seed, iteration))
        self.global_batch = local_batch * world_size
        self.rows = slice(rank * local_batch, (rank + 1) * local_batch)
        self.device = torch.device(device)

    def _mine(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor[self.rows].to(self.device, non_blocking=True)

    def randint(self, high: int) -> torch.Tensor:
        """(local_batch,) integers in [0, high)."""
        return self._mine(torch.randint(high, (self.global_batch,), generator=self.generator))

    def randn(self, *shape: int) -> torch.Tensor:
        """(local_batch, *shape) standard normal values."""
        return self._mine(torch.randn(self.global_batch, *shape, generator=self.generator))

    def rand(self, *shape: int) -> torch.Tensor:
        """(local_batch, *shape) values uniform in [0, 1)."""
        return self._mine(torch.rand(self.global_batch, *shape, generator=self.generator))

    def randn_like(self, like: torch.Tensor) -> torch.Tensor:
        """ε shaped like ``like`` (whose first dimension is the local batch), in its dtype."""
        return self.randn(*like.shape[1:]).to(like.dtype)

    def mixup_weights(self, config: ModelConfig) -> MixupWeights:
        """β1..β4 of Eq. 9 for this process's rows."""
        betas = sample_mixup_weights(self.global_batch, config, "cpu", self.generator)
        return MixupWeights(*(self._mine(beta) for beta in betas))
