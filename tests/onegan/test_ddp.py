"""Two CPU processes under torchrun (gloo) against one process at the same global batch: the
replicas see disjoint halves of the one-process batch, stay identical, and end with the weights the
single process trains (float summation order aside); rank 0 writes the checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.errors import UserError
from onegan.checkpoint import load_checkpoint
from onegan.distributed import ProcessGroup, _buckets, local_batch_size
from onegan.trainer import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import smoke_config  # noqa: E402

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = Path(__file__).resolve().parents[2]
ITERATIONS = 6  # smoke preset rescaled: fake reconstruction from 2, real from 4, so every path runs


def _two_processes(prepared_dir: Path, out: Path, *extra: str) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), str(prepared_dir), str(out), str(ITERATIONS), *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.mark.parametrize("overlap", [False, True], ids=["after-backward", "overlapped"])
def test_two_processes_train_the_one_process_model(prepared_dir, prepared, tmp_path, overlap):
    out = tmp_path / "ddp"
    ranks = _two_processes(prepared_dir, out, *(["overlap"] if overlap else []))
    # Overlapped: the all-reduces of most buckets began while the backward pass still ran.
    started = ranks[0]["buckets_started_in_backward"]
    paths = ("generation", "generation,fake_reconstruction", "generation,fake_reconstruction,real_reconstruction")
    expected = {f"{net},{p}" for net in ("model", "discriminators") for p in paths} if overlap else set()
    assert set(started) == expected and all(n > 1 for n in started.values()), started

    single = Trainer(smoke_config(prepared, ITERATIONS), prepared, tmp_path / "single", seed=0, progress=False)
    assert ranks[0]["local_batch"] * 2 == single.local_batch == single.config.train.batch_size
    # The two shards are the two halves of the one-process batch, in order.
    single_batch = single.streams.object_sampler.batch(0, single.local_batch)
    assert torch.equal(torch.cat([ranks[0]["batch"], ranks[1]["batch"]]), single_batch)
    single.run()

    for part, reference in (("model", single.model.state_dict()),
                            ("discriminators", single.discriminators.state_dict())):
        for key, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][key]), f"{part}.{key} differs between ranks"
            torch.testing.assert_close(value, reference[key], rtol=1e-4, atol=1e-5,
                                       msg=lambda m, k=key, p=part: f"{p}.{k}: 2 processes vs 1: {m}")
    # The weights did move (the comparison is not between two untrained models).
    initial = Trainer(smoke_config(prepared, ITERATIONS), prepared, tmp_path / "initial", seed=0, progress=False)
    assert not torch.allclose(initial.model.state_dict()["embeddings.child.weight"],
                              ranks[0]["model"]["embeddings.child.weight"], atol=1e-4)
    state = load_checkpoint(out)
    assert state["world_size"] == 2 and state["iteration"] == ITERATIONS
    assert torch.equal(state["model"]["embeddings.child.weight"], ranks[0]["model"]["embeddings.child.weight"])


def test_overlapped_average_is_the_average_after_backward_bit_for_bit(prepared_dir, tmp_path):
    """Each gradient element is the same two-term sum halved whichever bucket carries it, so
    overlapping the all-reduce with the backward pass changes no bit of the trained weights."""
    after = _two_processes(prepared_dir, tmp_path / "after")
    overlapped = _two_processes(prepared_dir, tmp_path / "overlapped", "overlap")
    for part in ("model", "discriminators"):
        for key, value in after[0][part].items():
            assert torch.equal(value, overlapped[0][part][key]), f"{part}.{key}"


def test_global_batch_must_divide_over_processes(prepared, tmp_path):
    assert local_batch_size(20, ProcessGroup(1, 4)) == 5
    with pytest.raises(UserError, match="--batch-size 8 is the global batch .* processes \\(3\\)"):
        Trainer(smoke_config(prepared, 2), prepared, tmp_path / "bad", group=ProcessGroup(0, 3), progress=False)


def test_gradient_buckets_are_few_flat_runs():
    tensors = [torch.zeros(1000) for _ in range(10)] + [torch.zeros(10, dtype=torch.float64), torch.zeros(5000)]
    buckets = _buckets(tensors, bucket_bytes=4 * 2500)
    # 2 float32 tensors of 4 kB fit a 10 kB bucket; a dtype change or a tensor over the size starts a new one.
    assert [len(b) for b in buckets] == [2, 2, 2, 2, 2, 1, 1]
    assert [b[0].dtype for b in buckets][-2:] == [torch.float64, torch.float32]
    assert sum(len(b) for b in buckets) == len(tensors)
