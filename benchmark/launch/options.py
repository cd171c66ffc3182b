"""The ``--launcher`` options of ``bench run`` and ``bench train``, and each method's resource defaults.

One job array carries one set of resources, so a grid's defaults are the largest of its methods'
defaults (``grid_resources``); every default can be overridden on the command line.
"""

from __future__ import annotations

from core.launching import CellResources, LaunchOptions, add_launch_arguments, launch_options

__all__ = ["CellResources", "LaunchOptions", "add_launch_arguments", "grid_resources", "launch_options",
           "method_resources"]


# Per method at the paper preset: the GAN trainers want a GPU and a data loader's cores; the
# training-free methods (k-means, the box) only score. Time limits are per job, not per cell: a cell
# that reaches its limit is signalled, checkpoints and is requeued (submitit), so 24 h suits the
# 20-28 h OneGAN runs as well as the shorter ones.
_GPU_TRAINER = CellResources(gpus=1, cpus=8, mem_gb=32, time_min=24 * 60)
_SCORING_ONLY = CellResources(gpus=1, cpus=4, mem_gb=16, time_min=4 * 60)
PAPER_RESOURCES: dict[str, CellResources] = {
    "onegan": _GPU_TRAINER, "finegan": _GPU_TRAINER, "stackgan": _GPU_TRAINER, "iic": _GPU_TRAINER,
    "iic-seg": _GPU_TRAINER, "redo": _GPU_TRAINER,
    "kmeans-colour": _SCORING_ONLY, "kmeans-features": _SCORING_ONLY, "centred-box": _SCORING_ONLY,
}
# The CPU presets: one core per cell (two cells on a 2-core machine run side by side).
CPU_RESOURCES = {"smoke": CellResources(gpus=0, cpus=1, mem_gb=3, time_min=30),
                 "tiny": CellResources(gpus=0, cpus=1, mem_gb=4, time_min=180)}


def method_resources(method: str, preset: str) -> CellResources:
    """The default resources of one cell of ``method`` at run preset ``preset``."""
    if preset in CPU_RESOURCES:
        return CPU_RESOURCES[preset]
    return PAPER_RESOURCES.get(method, _GPU_TRAINER)


def grid_resources(methods: list[str], preset: str) -> CellResources:
    """The largest default over the grid's methods (one job array has one set of resources)."""
    chosen = [method_resources(m, preset) for m in dict.fromkeys(methods)] or [method_resources("onegan", preset)]
    return CellResources(gpus=max(r.gpus for r in chosen), cpus=max(r.cpus for r in chosen),
                         mem_gb=max(r.mem_gb for r in chosen), time_min=max(r.time_min for r in chosen))


