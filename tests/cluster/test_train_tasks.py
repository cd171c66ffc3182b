"""``bench train --launcher slurm --tasks-per-node 2``: two Slurm tasks of one job, ranks from
submitit's JobEnvironment, gloo on CPU, train the weights one process trains (test_ddp's tolerance)."""

from __future__ import annotations

import torch
from slurm_helpers import GRID, bench, recorded_values

from core.contract import TrainRequest
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic
from onegan.api import build_config
from onegan.checkpoint import load_checkpoint
from onegan.trainer import Trainer

ITERATIONS = 6  # smoke rescaled: fake reconstruction from 2, real from 4, so every path runs
ONEGAN_CELL = [*GRID[:4], "--methods", "onegan", "--seeds", "0", "--no-figures"]


def test_two_slurm_tasks_train_the_one_process_model(slurm_cluster, tmp_path):
    data = write_synthetic(tmp_path / "data", classes=4, parents=2, images=60, size=24, seed=0)
    out = tmp_path / "run"
    done = bench("train", "--data", str(data), "--preset", "smoke", "--iterations", str(ITERATIONS),
                 "--out", str(out), "--device", "cpu", "--launcher", "slurm", "--tasks-per-node", "2",
                 "--poll-s", "0.5")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "2 task(s)" in done.stdout
    state = load_checkpoint(out)
    assert state["world_size"] == 2 and state["iteration"] == ITERATIONS

    prepared = load_prepared(data)
    torch.set_num_threads(1)
    request = TrainRequest(data=data, out=tmp_path / "single", preset="smoke", seed=0, iterations=ITERATIONS)
    single = Trainer(build_config(request, prepared.num_classes, prepared.num_parents), prepared,
                     tmp_path / "single", seed=0, progress=False)
    single.run()
    for part, reference in (("model", single.model.state_dict()),
                            ("discriminators", single.discriminators.state_dict())):
        for key, value in state[part].items():
            torch.testing.assert_close(value, reference[key], rtol=1e-4, atol=1e-5,
                                       msg=lambda m, k=key, p=part: f"{p}.{k}: 2 Slurm tasks vs 1 process: {m}")
    initial = Trainer(single.config, prepared, tmp_path / "initial", seed=0, progress=False)
    assert not torch.allclose(initial.model.state_dict()["embeddings.child.weight"],
                              state["model"]["embeddings.child.weight"], atol=1e-4)


def test_a_bench_run_cell_of_two_tasks(slurm_cluster, inprocess_grid, tmp_path):
    """A OneGAN cell of ``bench run`` on 2 Slurm tasks: trained data-parallel (world size 2, the
    one-process weights within test_ddp's tolerance), scored and recorded once, by rank 0."""
    out, work = tmp_path / "out", tmp_path / "work"
    done = bench("run", *ONEGAN_CELL, "--out", str(out), "--work", str(work), "--launcher", "slurm",
                 "--tasks-per-node", "2", "--poll-s", "0.5")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (run_dir,) = (work / "checkpoints").glob("*/smoke/seed0/onegan")
    (reference_dir,) = (inprocess_grid / "work" / "checkpoints").glob("*/smoke/seed0/onegan")
    state, reference = load_checkpoint(run_dir), load_checkpoint(reference_dir)
    assert state["world_size"] == 2 and reference["world_size"] == 1 and state["iteration"] == 30
    for part in ("model", "discriminators"):
        for key, value in state[part].items():
            torch.testing.assert_close(value, reference[part][key], rtol=1e-4, atol=1e-5,
                                       msg=lambda m, k=key, p=part: f"{p}.{k}: 2 tasks vs 1 process: {m}")
    recorded = recorded_values(out)  # asserts no duplicate record (rank 1 records nothing)
    expected = {k for k in recorded_values(inprocess_grid / "out") if k[0] == "onegan"}
    assert set(recorded) == expected
