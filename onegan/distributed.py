"""Data-parallel training across processes started by ``torchrun`` (gloo on CPU, nccl on GPU).

OneGAN runs several forward passes through different sub-networks per iteration (one per path and
per discriminator step), which does not fit ``DistributedDataParallel``'s one-forward-one-backward
contract; so each process keeps a full replica and gradients are averaged explicitly before every
optimiser step, coalesced into a few flat buckets of at most ``BUCKET_BYTES`` (one ``all_reduce``
per bucket, not per tensor). Replicas start from the same seed and rank 0's weights are broadcast
once, so they stay identical.

Every loss is a mean over the batch and every process holds global/world samples, so the average of
the per-process gradients is the gradient of the global batch: N processes at global batch B train
the model one process trains at B (up to float summation order).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.errors import UserError

BUCKET_BYTES = 25 * 1024 ** 2   # gradient bucket size (DDP's default)


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



def flatten(tensors: list[torch.Tensor]) -> torch.Tensor:
    """One contiguous 1-D buffer of ``tensors`` in order (what a bucket sends in one collective)."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(flat: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    """Views of ``flat`` shaped as ``like``, in order (the inverse of ``flatten``)."""
    return [part.view_as(t) for part, t in zip(flat.split([t.numel() for t in like]), like, strict=True)]

def init_from_environment(device: torch.device) -> ProcessGroup:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1), else single."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def broadcast_parameters(modules: Iterable[torch.nn.Module], group: ProcessGroup) -> None:
    """Copy rank 0's parameters and buffers to every process (flat buckets, one broadcast each)."""
    if not group.distributed:
        return
    tensors = [t.data for module in modules for t in list(module.parameters()) + list(module.buffers())]
    for bucket in _buckets(tensors, BUCKET_BYTES):
        flat = flatten(bucket)
        dist.broadcast(flat, src=0)
        for tensor, synced in zip(bucket, unflatten(flat, bucket), strict=True):
            tensor.copy_(synced)


def local_batch_size(global_batch: int, group: ProcessGroup) -> int:
    """This process's share of the global batch; a UserError when the world size does not divide it."""
    if global_batch < 1 or global_batch % group.world_size:
        raise UserError(f"--batch-size {global_batch} is the global batch and must be a positive multiple of "
                        f"the number of processes ({group.world_size}); choose e.g. "
                        f"{max(1, round(global_batch / group.world_size)) * group.world_size}")
    return global_batch // group.world_size


def _buckets(tensors: list[torch.Tensor], bucket_bytes: int) -> list[list[torch.Tensor]]:
    """Consecutive runs of same-dtype/device tensors of at most ``bucket_bytes`` (a larger tensor alone)."""
    buckets: list[list[torch.Tensor]] = []
    size = 0
    for tensor in tensors:
        nbytes = tensor.numel() * tensor.element_size()
        current = buckets[-1] if buckets else None
        if (current is None or size + nbytes > bucket_bytes or current[0].dtype != tensor.dtype
                or current[0].device != tensor.device):
            buckets.append([tensor])
            size = nbytes
        else:
            current.append(tensor)
            size += nbytes
    return buckets


def average_gradients(parameters: Iterable[torch.nn.Parameter], group: ProcessGroup,
                      nonfinite: torch.Tensor | None = None, bucket_bytes: int = BUCKET_BYTES) -> bool:
    """Average ``.grad`` over processes in flat buckets; True when any process flagged ``nonfinite``.

    ``nonfinite`` (a 0/1 scalar: this process's losses were not all finite) rides in the first bucket,
    so all processes learn of a divergence without a collective of its own and stop together.
    Parameters without a gradient (unused by this step's graph, the same on every process) keep
    ``grad = None`` so that Adam skips them exactly as a single process does.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not group.distributed:
        return bool(nonfinite) if nonfinite is not None else False
    buckets = _buckets(grads, bucket_bytes)
    flag = None
    if nonfinite is not None:
        flag = nonfinite.detach().reshape(1).to(torch.float32, copy=True)
        if buckets and buckets[0][0].dtype == flag.dtype and buckets[0][0].device == flag.device:
            buckets[0].insert(0, flag)
        else:
            buckets.insert(0, [flag])
    for bucket in buckets:
        flat = flatten(bucket)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(group.world_size)
        for tensor, synced in zip(bucket, unflatten(flat, bucket), strict=True):
            tensor.copy_(synced)
    return flag is not None and bool(flag.item() > 0)


def agree_max(values: list[int], group: ProcessGroup, device: torch.device) -> list[int]:
    """The element-wise maximum of ``values`` over processes (one small collective): the decisions
    one process would take from its own clock or signals (save now, stop now) taken by all together."""
    if not group.distributed:
        return values
    flags = torch.tensor(values, dtype=torch.int64, device=device)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return [int(v) for v in flags.tolist()]


class OverlappedGradientAverager:
    """``average_gradients`` overlapped with the backward pass (``PerformanceConfig.overlap_gradient_reduction``).

    The parameters are bucketed in reverse order (the backward pass fills the last layers first) and a
    post-accumulate-grad hook counts each bucket's gradients as they land; a bucket whose gradients are
    all in is all-reduced asynchronously at once, while autograd computes the rest. Buckets start in
    index order only, so every process issues the same collectives in the same order. The first call
    learns which parameters the step leaves without a gradient (the same on every process: one
    averager serves one phase's graph) and later calls bucket only the others, so an unused parameter
    does not hold its bucket back; anything not in a bucket is averaged after the backward.
    The values are those of ``average_gradients``: each element is the same sum over processes
    divided by the world size, whatever bucket it travels in.
    """

    def __init__(self, parameters: Iterable[torch.nn.Parameter], group: ProcessGroup,
                 bucket_bytes: int | None = None) -> None:
        self.group = group
        self.bucket_bytes = BUCKET_BYTES if bucket_bytes is None else bucket_bytes
        self.parameters = [p for p in parameters if p.requires_grad]
        self._rebucket(self.parameters)
        self._learned = False
        self._armed = False
        self._missing: list[int] = []
        self._next = 0
        self._launched: list[tuple[object, torch.Tensor, list[torch.Tensor]] | None] = []
        self.started_in_backward = 0  # buckets whose all-reduce began before the backward pass ended
        self._hooks = [p.register_post_accumulate_grad_hook(self._landed) for p in self.parameters]

    def _rebucket(self, parameters: list[torch.nn.Parameter]) -> None:
        self.buckets = _buckets(list(reversed(parameters)), self.bucket_bytes)
        self._bucket_of = {id(p): index for index, bucket in enumerate(self.buckets) for p in bucket}
        bucketed = set(self._bucket_of)
        self._unbucketed = [p for p in self.parameters if id(p) not in bucketed]

    def _landed(self, parameter: torch.nn.Parameter) -> None:
        index = self._bucket_of.get(id(parameter))
        if not self._armed or index is None:
            return
        self._missing[index] -= 1
        while self._next < len(self.buckets) and self._missing[self._next] == 0:
            self._launch(self.buckets[self._next])
            self._next += 1
            self.started_in_backward += 1

    def _launch(self, parameters: list[torch.nn.Parameter]) -> None:
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = flatten(grads)
        self._launched.append((dist.all_reduce(flat, op=dist.ReduceOp.SUM, async_op=True), flat, grads))

    def backward(self, loss: torch.Tensor, nonfinite: torch.Tensor | None = None) -> bool:
        """``loss.backward()`` with the gradients averaged over processes as they land; True when any
        process flagged ``nonfinite`` (its own small collective, started before the backward)."""
        if not self.group.distributed:
            loss.backward()
            return bool(nonfinite) if nonfinite is not None else False
        flag_work = flag = None
        if nonfinite is not None:
            flag = nonfinite.detach().reshape(1).to(torch.float32, copy=True)
            flag_work = dist.all_reduce(flag, op=dist.ReduceOp.SUM, async_op=True)
        self._missing = [len(bucket) for bucket in self.buckets]
        self._next, self._launched, self._armed = 0, [], True
        try:
            loss.backward()
        finally:
            self._armed = False
        while self._next < len(self.buckets):
            self._launch(self.buckets[self._next])
            self._next += 1
        for leftovers in _buckets([p for p in self._unbucketed if p.grad is not None], self.bucket_bytes):
            self._launch(leftovers)
        for work, flat, grads in self._launched:
            work.wait()
            flat.div_(self.group.world_size)
            for tensor, synced in zip(grads, unflatten(flat, grads), strict=True):
                tensor.copy_(synced)
        self._launched = []
        if not self._learned:  # from now on, bucket only what this graph gives a gradient
            self._learned = True
            self._rebucket([p for p in self.parameters if p.grad is not None])
        if flag_work is None:
            return False
        flag_work.wait()
        return bool(flag.item() > 0)

    def remove(self) -> None:
        """Unregister the hooks."""
        for hook in self._hooks:
            hook.remove()


def barrier(group: ProcessGroup) -> None:
    if group.distributed:
        dist.barrier()


def shutdown(group: ProcessGroup) -> None:
    if group.distributed and dist.is_initialized():
        dist.destroy_process_group()
