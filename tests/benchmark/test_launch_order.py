"""The order a grid's cells are submitted in (benchmark/launch/order.py): measured durations, longest
first, and what that buys a job array with fewer slots than cells (checked against brute force)."""

from __future__ import annotations

import heapq
import itertools
import random

from benchmark.grid import PlannedCell
from benchmark.launch.order import cell_seconds, expected_seconds, longest_first, pack, shipped_seconds


def _record(method: str, seed: int, task: str, metric: str, group: str, wall: float, trained: float,
            variant: str | None = None, preset: str = "tiny") -> dict:
    return {"method": method, "variant": variant, "preset": preset, "seed": seed, "dataset_fingerprint": "d",
            "task": task, "metric": metric, "group": group, "wall_time_s": wall, "source": "measured",
            "options": {"train_or_load_seconds": trained}}


def test_cell_seconds_is_training_plus_each_task_scoring_once_longest_seed() -> None:
    records = [
        # seed 0: trained 100 s, segmentation scored in 5 s (two metrics of one group), clustering in 2 s
        _record("redo", 0, "segmentation", "iou", "g1", 5.0, 100.0),
        _record("redo", 0, "segmentation", "dice", "g1", 5.0, 100.0),
        _record("redo", 0, "clustering", "acc", "g2", 2.0, 100.0),
        # seed 1 loaded a checkpoint (1 s): a cell's expected time is its longest measurement
        _record("redo", 1, "segmentation", "iou", "g3", 5.0, 1.0),
        _record("redo", 0, "segmentation", "iou", "g4", 9.0, 50.0, variant="no-vae"),
        {**_record("iic", 0, "clustering", "acc", "g5", 1.0, 999.0), "source": "reported"},  # printed, not run
    ]
    seconds = cell_seconds(records)
    assert seconds == {("redo", None, "tiny"): 107.0, ("redo", "no-vae", "tiny"): 59.0}


def test_longest_first_unknown_first_ties_keep_grid_order_first_table_wins() -> None:
    cells = [PlannedCell(m, None, s, ("segmentation",)) for s in (0, 1) for m in ("iic-seg", "redo", "wnet")]
    scale = {c: "tiny" for c in cells}
    own = {("redo", None, "tiny"): 80.0}
    shipped = {("redo", None, "tiny"): 10.0, ("iic-seg", None, "tiny"): 40.0}
    ordered = longest_first(cells, expected_seconds(cells, scale, own, shipped))
    assert [(c.method, c.seed) for c in ordered] == [
        ("wnet", 0), ("wnet", 1),          # never measured: first, in the grid's order
        ("redo", 0), ("redo", 1),          # the run's own 80 s wins over the shipped 10 s
        ("iic-seg", 0), ("iic-seg", 1)]


def _array_makespan(durations: list[float], slots: int) -> float:
    """A job array's span: tasks start in index order, each on the first slot to free up."""
    free = [0.0] * slots
    for duration in durations:
        heapq.heappush(free, heapq.heappop(free) + duration)
    return max(free)


def test_longest_first_is_within_four_thirds_of_the_best_schedule_by_brute_force() -> None:
    rng = random.Random(0)
    worse_in_grid_order = 0
    for _ in range(200):
        durations = [rng.choice([20.0, 40.0, 45.0, 75.0, 80.0, 300.0]) * rng.uniform(0.9, 1.1)
                     for _ in range(rng.randint(3, 7))]
        cells = [PlannedCell(f"m{i}", None, 0, ("segmentation",)) for i in range(len(durations))]
        table = {(c.method, None, "tiny"): d for c, d in zip(cells, durations, strict=True)}
        ordered = longest_first(cells, expected_seconds(cells, {c: "tiny" for c in cells}, table))
        lpt = _array_makespan([table[(c.method, None, "tiny")] for c in ordered], 2)
        best = min(max(sum(d for d, side in zip(durations, split, strict=True) if side),
                       sum(d for d, side in zip(durations, split, strict=True) if not side))
                   for split in itertools.product((0, 1), repeat=len(durations)))
        assert lpt <= 4 / 3 * best + 1e-9
        worse_in_grid_order += _array_makespan(durations, 2) > lpt + 1e-9
    assert worse_in_grid_order > 0  # the grid's own order does lose time on some grids


def test_shipped_records_know_the_demo_grid_redo_is_longer_than_iic_seg() -> None:
    seconds = shipped_seconds()
    assert seconds[("redo", None, "tiny")] > seconds[("iic-seg", None, "tiny")] > 0
    assert seconds[("onegan", None, "tiny")] > seconds[("redo", None, "tiny")]


def test_pack_fills_as_few_jobs_as_the_cap_allows_balanced_by_expected_seconds() -> None:
    cells = [PlannedCell(f"m{i}", None, 0, ("segmentation",)) for i in range(5)]
    seconds = dict(zip(cells, [80.0, 75.0, 43.0, 40.0, None], strict=True))  # m4 never measured: counts as 80
    ordered = [cells[4], *cells[:4]]  # longest_first's order: the unmeasured one first
    jobs = pack(ordered, seconds, 2)
    assert len(jobs) == 3 and all(1 <= len(job) <= 2 for job in jobs)
    assert all(job == sorted(job, key=ordered.index) for job in jobs)  # each job runs its longest cell first
    assert sorted(c.method for job in jobs for c in job) == [c.method for c in cells]
    totals = sorted(sum(80.0 if seconds[c] is None else seconds[c] for c in job) for job in jobs)
    # brute force over every way to put 5 cells in 3 jobs of at most 2: LPT's largest total is the best one
    values = [80.0 if seconds[c] is None else seconds[c] for c in cells]
    best = min(max(sum(v for v, j in zip(values, assign, strict=True) if j == k) for k in range(3))
               for assign in itertools.product(range(3), repeat=5)
               if all(sum(1 for j in assign if j == k) <= 2 for k in range(3)))
    assert totals[-1] == best
    assert pack(ordered, seconds, 1) == [[c] for c in ordered]


def test_a_cell_built_on_the_evaluator_goes_last_even_when_measured_longest() -> None:
    from types import SimpleNamespace

    from benchmark.launch.cells import CellState
    from benchmark.launch.submit import _cell_bundles

    records = [_record("kmeans-features", 0, "clustering", "acc", "g1", 400.0, 100.0),  # measured longest
               _record("redo", 0, "segmentation", "iou", "g2", 5.0, 75.0),
               _record("iic-seg", 0, "segmentation", "iou", "g3", 5.0, 35.0)]
    ctx = SimpleNamespace(store=SimpleNamespace(load=lambda: records), preset=SimpleNamespace(name="tiny"))
    cells = [PlannedCell(m, None, 1, ("segmentation",)) for m in ("kmeans-features", "iic-seg", "redo")]
    todo = [CellState(c, c.method, "to do") for c in cells]
    assert [[s.cell.method for s in b] for b in _cell_bundles(ctx, todo, 1)] == [
        ["redo"], ["iic-seg"], ["kmeans-features"]]
    assert [s.cell.method for b in _cell_bundles(ctx, todo, 2) for s in b][-1] == "kmeans-features"
