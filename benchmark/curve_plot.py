"""The learning-curve figure of ``bench curve``: each metric against CPU-minutes of training (bottom
axis) and iterations (top axis, the first method's: methods differ in CPU per iteration), mean ±
std over seeds with each seed drawn faintly, one colour and line style per method (``CURVE_STYLES``),
and the floors the demo's claims are judged against drawn as horizontal lines."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmark.methods import title_of
from benchmark.seed_spread import seed_std
from core.atomic import atomic_path, read_jsonl

# (metric, panel title, floor: (floor method, floor metric, offset, label) or None)
PANELS = (
    ("iou", "IOU (%)", ("centred-box", "iou", 10.0, "centred box + 10")),
    ("acc", "child ACC", ("kmeans-colour", "acc", 0.0, "k-means colour (k = NC)")),
    ("nmi", "child NMI", ("kmeans-colour", "nmi", 0.0, "k-means colour (k = NC)")),
    ("parent_acc", "parent ACC", ("kmeans-colour", "parent_acc", 0.0, "k-means colour (k = NP)")),
    ("parent_nmi", "parent NMI", ("kmeans-colour", "parent_nmi", 0.0, "k-means colour (k = NP)")),
    ("diversity", "diversity (fakes / reals)", None),
)


# method -> (colour, line style); methods not listed are drawn after these in grey.
CURVE_STYLES = {"onegan": ("tab:blue", "-"), "finegan": ("tab:green", "--")}


def _is_curve_record(r: dict) -> bool:
    return "iteration" in r.get("options", {}) and str(r.get("variant") or "").startswith("@")


def curve_methods(records: list[dict]) -> list[str]:
    """The methods with curve records, OneGAN first (``CURVE_STYLES``' order, then by name)."""
    found = {r["method"] for r in records if _is_curve_record(r)}
    order = list(CURVE_STYLES)
    return sorted(found, key=lambda m: (order.index(m) if m in order else len(order), m))


def curve_points(records: list[dict], method: str = "onegan") -> dict[str, dict[int, list[tuple[int, float, float]]]]:
    """metric -> seed -> [(iteration, cpu_minutes, value)] for ``method``'s curve records."""
    points: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.get("method") == method and _is_curve_record(r):
            o = r["options"]
            points[r["metric"]][int(r["seed"])].append((int(o["iteration"]), float(o["cpu_minutes"]), r["value"]))
    return {m: {s: sorted(v) for s, v in seeds.items()} for m, seeds in points.items()}


def floor_values(records: list[dict]) -> dict[tuple[str, str], float]:
    return {(r["method"], r["metric"]): r["value"] for r in records if r.get("method") in ("centred-box",
                                                                                          "kmeans-colour")}


def _draw_method(ax, seeds: dict[int, list[tuple[int, float, float]]], method: str, top_axis: str | None) -> None:
    """One method's curve on one panel: each seed faintly, the mean ± std of the seeds at a budget
    boldly; with ``top_axis`` (its label), an iterations axis on top mapped through this method's
    CPU-minutes."""
    colour, style = CURVE_STYLES.get(method, ("tab:grey", "-."))
    by_iteration: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for series in seeds.values():
        ax.plot([p[1] for p in series], [p[2] for p in series], color=colour, ls=style, alpha=0.3, lw=1, marker=".")
        for it, cpu, value in series:
            by_iteration[it].append((cpu, value))
    if not by_iteration:
        return
    its = sorted(by_iteration)
    cpu = np.array([np.mean([c for c, _ in by_iteration[i]]) for i in its])
    mean = np.array([np.mean([v for _, v in by_iteration[i]]) for i in its])
    std = np.array([seed_std([v for _, v in by_iteration[i]]) for i in its])
    ax.plot(cpu, mean, color=colour, ls=style, lw=2, marker="o",
            label=f"{title_of(method)} (mean ± std of the seeds at a budget)")
    ax.fill_between(cpu, mean - std, mean + std, color=colour, alpha=0.15)
    if top_axis:
        # Training starts at (0 CPU-minutes, iteration 0) and runs on at its last pace: the mapping
        # holds over the whole axis instead of piling the ticks up where np.interp would clamp.
        if len(its) > 1:
            pace = (its[-1] - its[-2]) / max(cpu[-1] - cpu[-2], 1e-9)   # iterations per CPU-minute
        else:
            pace = its[-1] / max(cpu[-1], 1e-9)
        c = np.concatenate([[0.0], cpu, [2 * cpu[-1]]])
        i = np.concatenate([[0.0], its, [its[-1] + pace * cpu[-1]]])
        top = ax.secondary_xaxis("top", functions=(lambda x, c=c, i=i: np.interp(x, c, i),
                                                   lambda x, c=c, i=i: np.interp(x, i, c)))
        top.set_xlabel(top_axis, fontsize=8)
        top.tick_params(labelsize=7)


def plot_curves(records_files: Path | list[Path], out: Path) -> Path:
    """Draw the curves of every record in ``records_files`` (one file, or several, e.g. one per seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = [records_files] if isinstance(records_files, Path) else list(records_files)
    records = [r for f in files for r in read_jsonl(f)]
    methods, floors = curve_methods(records), floor_values(records)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for ax, (metric, title, floor) in zip(axes.flat, PANELS, strict=True):
        for method in methods:
            # One iterations axis per panel, the first method's (OneGAN's when drawn): named when it
            # is not the only method, since the others' iterations map to other CPU-minutes.
            top_axis = None if method != methods[0] else (
                "iterations" if len(methods) == 1 else f"{title_of(method)} iterations")
            _draw_method(ax, curve_points(records, method).get(metric, {}), method, top_axis)
        if floor is not None and (floor[0], floor[1]) in floors:
            ax.axhline(floors[(floor[0], floor[1])] + floor[2], color="tab:red", ls="--", lw=1, label=floor[3])
        if metric == "diversity":
            ax.axhline(0.5, color="tab:red", ls="--", lw=1, label="half of the real images'")
            ax.axhline(1.0, color="grey", ls=":", lw=1, label="real images")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("CPU-minutes of training", fontsize=8)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    presets = sorted({r["preset"].removeprefix("curve:") for r in records if r.get("method") in methods})
    names = " and ".join(title_of(m) for m in methods) or "No"
    fig.suptitle(f"{names} learning curves on the synthetic world ({', '.join(presets)} preset; one resumable "
                 "run per seed)", fontsize=11)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return out
