"""Run by ``torchrun --nproc_per_node 2`` from test_ddp.py: a few OneGAN steps on CPU (gloo) of the
smoke preset at its global batch, then each rank writes its weights and its first real batch indices
so the test can compare the ranks with each other and with one process at the same global batch."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from data_prep.prepared import load_prepared
from onegan import distributed
from onegan.config import OneGANConfig
from onegan.distributed import init_from_environment, shutdown
from onegan.trainer import Trainer


def smoke_config(prepared, iterations: int) -> OneGANConfig:
    return OneGANConfig.preset("smoke", prepared.num_classes, prepared.num_parents).with_iterations(iterations)


def main() -> None:
    data, out, iterations = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    overlap = len(sys.argv) > 4 and sys.argv[4] == "overlap"  # PerformanceConfig.overlap_gradient_reduction
    torch.set_num_threads(1)
    # Small buckets, so that the smoke model's gradients travel in several (25 MB holds it whole).
    distributed.BUCKET_BYTES = 16 * 1024
    group = init_from_environment(torch.device("cpu"))
    prepared = load_prepared(data)
    config = smoke_config(prepared, iterations).with_performance(overlap_gradient_reduction=overlap)
    trainer = Trainer(config, prepared, out, seed=0, group=group, progress=False)
    batch = trainer.streams.object_sampler.batch(0, trainer.local_batch)
    trainer.run()
    torch.save({"model": trainer.model.state_dict(), "discriminators": trainer.discriminators.state_dict(),
                "batch": batch, "world_size": group.world_size, "local_batch": trainer.local_batch,
                "buckets_started_in_backward": {",".join(key): averager.started_in_backward
                                                for key, averager in trainer._averagers.items()}},
               out / f"rank{group.rank}.pt")
    shutdown(group)


if __name__ == "__main__":
    main()
