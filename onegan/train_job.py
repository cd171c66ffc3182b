"""``bench train --launcher slurm|local``: one OneGAN training run as a submitit job, several tasks
(processes) per job when asked, each a data-parallel rank of ``onegan/distributed.py``.

submitit's ``JobEnvironment`` names every task's global rank, local rank, the number of tasks and the
job's first node; ``TrainJob`` turns them into the variables ``torch.distributed``'s ``env://``
rendezvous reads (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so the data-parallel
training torchrun starts runs the same way across the tasks of one job, on one node or several:
N tasks at global batch B train the model one process trains at B. The job is a
``submitit.helpers.Checkpointable``: on Slurm's warning signal it is requeued and resumes from its
checkpoint (the run always resumes: ``request.resume`` is set).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from pathlib import Path

import submitit

from core.contract import TrainRequest
from core.errors import UserError
from core.launching import CellResources, LaunchOptions, make_executor, preflight, slurm_jobs, submit_jobs
from core.training_run import claim_run_dir

# Per task (GPU, CPUs) and per job (memory, time limit) at each OneGAN preset.
RESOURCES = {"paper": CellResources(gpus=1, cpus=8, mem_gb=32, time_min=24 * 60),
             "tiny": CellResources(gpus=0, cpus=1, mem_gb=4, time_min=180),
             "smoke": CellResources(gpus=0, cpus=1, mem_gb=3, time_min=30)}


def master_port(job_id: str) -> int:
    """A rendezvous port every task of the job derives alike from the job id (no two jobs of one node
    collide unless their ids are 50000 apart)."""
    return 10000 + int(re.sub(r"\D", "", str(job_id)) or 0) % 50000


def set_distributed_environment(env: submitit.JobEnvironment) -> None:
    """The variables of torch's env:// rendezvous, from submitit's view of this task."""
    os.environ.update(RANK=str(env.global_rank), LOCAL_RANK=str(env.local_rank), WORLD_SIZE=str(env.num_tasks),
                      MASTER_ADDR=env.hostnames[0], MASTER_PORT=str(master_port(env.job_id)))


class TrainJob(submitit.helpers.Checkpointable):
    """One OneGAN training run; requeued on preemption (submitit's default ``checkpoint``)."""

    def __init__(self, request: TrainRequest) -> None:
        self.request = dataclasses.replace(request, resume=True)

    def __call__(self) -> str:
        from core.locking import main_process_lock
        from onegan.api import train

        env = submitit.JobEnvironment()
        if env.num_tasks > 1:
            set_distributed_environment(env)
        with main_process_lock(self.request.out, "training OneGAN"):  # rank 0 only: the ranks train together
            return str(train(self.request, progress=env.global_rank == 0))


def launch_training(request: TrainRequest, options: LaunchOptions) -> int:
    """Submit the run as one job of ``options.tasks_per_node`` x ``options.nodes`` tasks; wait for its
    checkpoint (unless ``--no-wait``)."""
    preflight(options)
    # --resume / --restart are decided once, here: a requeued job only ever resumes what it trained
    claim_run_dir(request.out, resume=request.resume, restart=request.restart)
    request = dataclasses.replace(request, resume=True, restart=False)
    resources = options.with_defaults(RESOURCES.get(request.preset, RESOURCES["paper"]))
    folder = Path(options.log_dir or Path(request.out) / "jobs")
    executor = make_executor(options.kind, folder, resources, options, name=f"onegan-{request.preset}")
    (job,) = submit_jobs(executor, [TrainJob(request)])
    tasks = options.tasks_per_node * options.nodes
    print(f"submitted OneGAN training as {options.kind} job {job.job_id} ({tasks} task(s), "
          f"{resources.describe()} per task); log {job.paths.stderr}".replace("%t", "0"))
    if not options.wait:
        return 0
    while not _finished(job, options.kind):
        time.sleep(options.poll_s)
    if not job.paths.result_pickle.exists():
        raise UserError(f"job {job.job_id} ended without a result (killed? out of memory?); log "
                        f"{str(job.paths.stderr).replace('%t', '0')}; rerun to resume from its checkpoint")
    try:
        path = job.results()[0]  # one result per task; rank 0's names the checkpoint
    except Exception as err:  # the job's own exception, re-raised by submitit with its traceback
        last = [ln for ln in str(err).strip().splitlines() if ln.strip()]
        raise UserError(f"job {job.job_id} failed: {last[-1] if last else err}; log "
                        f"{str(job.paths.stderr).replace('%t', '0')}") from None
    print(f"onegan: checkpoint {path}")
    return 0


def _finished(job: submitit.Job, kind: str) -> bool:
    if kind == "local":
        return job.done()
    if job.paths.result_pickle.exists():
        return True
    return str(job.job_id) not in slurm_jobs()
