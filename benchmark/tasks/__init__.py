"""The benchmark's tasks: functions from (method, prepared dataset, options) to metric values.

``TASKS`` maps the names used by ``bench run --task`` to the evaluators; every evaluator returns
``TaskResult(values, options)`` with values in the paper's units (IOU/DICE in percent, ACC/NMI as
fractions, FID/IS as usual).
"""

from __future__ import annotations

from benchmark.tasks.clustering import evaluate_clustering
from benchmark.tasks.common import EvalOptions, TaskResult
from benchmark.tasks.generation import evaluate_generation
from benchmark.tasks.segmentation import evaluate_segmentation

TASKS = {
    "generation": evaluate_generation,
    "segmentation": evaluate_segmentation,
    "clustering": evaluate_clustering,
}
# The Method capability each task needs (see core.contract.Method.tasks).
TASK_CAPABILITY = {"generation": "generate", "segmentation": "segment", "clustering": "cluster"}

__all__ = ["TASKS", "TASK_CAPABILITY", "EvalOptions", "TaskResult"]
