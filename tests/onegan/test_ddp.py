"""Two CPU processes under torchrun (gloo): replicas see different data yet stay identical, because
gradients are averaged before every optimiser step; rank 0 writes the checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from onegan.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = Path(__file__).resolve().parents[2]


def test_two_process_gloo_training(prepared_dir, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), str(prepared_dir), str(out), "4"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert not set(ranks[0]["batch"].tolist()) & set(ranks[1]["batch"].tolist())  # disjoint shards
    for part in ("model", "discriminators"):
        for key, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][key]), f"{part}.{key} differs between ranks"
    state = load_checkpoint(out)
    assert state["world_size"] == 2 and state["iteration"] == 4
    assert torch.equal(state["model"]["embeddings.child.weight"], ranks[0]["model"]["embeddings.child.weight"])
