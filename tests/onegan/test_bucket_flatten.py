"""The gradient buckets' flatten/unflatten (onegan/distributed.py, no private torch API)."""

import torch

from onegan.distributed import flatten, unflatten


def test_flatten_lays_tensors_end_to_end_in_logical_order_and_unflatten_inverts_it():
    generator = torch.Generator().manual_seed(0)
    tensors = [torch.randn(2, 3, 4, 5, generator=generator).to(memory_format=torch.channels_last),
               torch.randn(7, generator=generator), torch.randn(3, 2, generator=generator).t()]
    flat = flatten(tensors)
    assert flat.shape == (sum(t.numel() for t in tensors),)
    offset = 0
    for t in tensors:  # element (i, j, ...) of each tensor at its row-major position
        assert torch.equal(flat[offset:offset + t.numel()], torch.tensor(t.tolist()).reshape(-1))
        offset += t.numel()
    back = unflatten(flat, tensors)
    assert [b.shape for b in back] == [t.shape for t in tensors]
    assert all(torch.equal(b, t) for b, t in zip(back, tensors, strict=True))
    back[1].add_(1.0)  # views of the one buffer: an all-reduce on it reaches every tensor
    assert torch.equal(flat[120:127], back[1])
