"""Data-parallel training across processes started by ``torchrun`` (gloo on CPU, nccl on GPU).

OneGAN runs several forward passes through different sub-networks per iteration (one per path and
per discriminator step), which does not fit ``DistributedDataParallel``'s one-forward-one-backward
contract; so each process keeps a full replica and gradients are averaged explicitly with
``all_reduce`` before every optimiser step. Replicas start from the same seed and rank 0's weights
are broadcast once, so they stay identical.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessGroup:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_from_environment(device: torch.device) -> ProcessGroup:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1), else single."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def broadcast_parameters(modules: Iterable[torch.nn.Module], group: ProcessGroup) -> None:
    if not group.distributed:
        return
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(parameters: Iterable[torch.nn.Parameter], group: ProcessGroup) -> None:
    """Average .grad over processes (parameters without a gradient contribute zeros on every rank)."""
    if not group.distributed:
        return
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad.div_(group.world_size)


def all_finite(values: torch.Tensor, group: ProcessGroup) -> bool:
    """True when every rank's values are finite (so all ranks stop together)."""
    ok = torch.tensor([float(torch.isfinite(values).all())], device=values.device)
    if group.distributed:
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok.item() > 0)


def barrier(group: ProcessGroup) -> None:
    if group.distributed:
        dist.barrier()


def shutdown(group: ProcessGroup) -> None:
    if group.distributed and dist.is_initialized():
        dist.destroy_process_group()
