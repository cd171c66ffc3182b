"""``bench check``: the CI regression check, in two stages.

- ``smoke`` (the plumbing): the ``smoke`` preset on the synthetic dataset with fixed seeds, every method
  and task, every metric compared with ``results/reference/records.jsonl`` under per-metric tolerances.
  Nothing learns at this scale, so this stage only notices broken plumbing.
- ``learning`` (the method): OneGAN at the demo's ``tiny`` preset (seed 0) beside its floors (the
  centred box, k-means on colour histograms), compared with ``results/reference/learning.jsonl``, and
  the demo's claims (``benchmark.claims``) asserted: OneGAN's IOU above the centred box + 10 and its
  within-code diversity at least half the real images'. A change that breaks OneGAN's learning turns
  this stage red even when every tolerance would pass. About 10 minutes on 2 CPU cores.
Each metric's tolerance and direction are its declaration's (``benchmark.metric_registry``).
A metric that got *worse* by more than its tolerance (or is missing), or a required claim that fails,
is a regression: a diff table is printed and the exit status is 1. ``--update`` deliberately rewrites
the references from this run.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from benchmark import metric_registry
from benchmark.claims import claims_table, evaluate_claims
from benchmark.methods import ALL_METHODS
from benchmark.run import run
from benchmark.table import aggregate
from core.atomic import atomic_path, read_jsonl
from core.cli_options import cli
from core.errors import UserError

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference" / "records.jsonl"
LEARNING_REFERENCE = REFERENCE.with_name("learning.jsonl")
LEARNING_METHODS = "onegan,centred-box,kmeans-colour"
STAGES = ("smoke", "learning")
# Allowed worsening before a metric counts as regressed: each metric's declared tolerance
# (benchmark.metric_registry; absolute for bounded scores, relative for FID/IS-type scores). Metrics
# declared without one are recorded for reference only and not compared. Kept for importers:
TOLERANCES = {name: (m.tolerance.kind, m.tolerance.amount) for name, m in metric_registry.METRICS.items()
              if m.tolerance is not None}
SCORED_METRICS = metric_registry.checked_metrics()


def compare(reference: list[dict], measured: list[dict]) -> tuple[list[list], bool]:
    """Rows (protocol, method, variant, metric, reference, measured, allowed, status) and whether all
    passed. Values are only ever compared within one protocol (reference records older than protocols
    read as OneGAN's)."""
    ref, new = aggregate(reference), aggregate(measured)
    rows, ok = [], True
    for key in sorted(ref):
        protocol, dataset, method, variant, metric = key
        declared = metric_registry.get(metric)  # an undeclared reference metric: one clear error
        if declared.tolerance is None:
            continue
        ref_value = ref[key][0]
        allowed = declared.tolerance.allowed(ref_value)
        if key not in new:
            rows.append([protocol, method, variant, metric, ref_value, None, allowed, "MISSING"])
            ok = False
            continue
        value = new[key][0]
        worse_by = (ref_value - value) if declared.higher_is_better else (value - ref_value)
        status = "ok" if worse_by <= allowed + 1e-12 else "REGRESSED"
        if worse_by < -allowed:
            status = "improved"
        ok &= status != "REGRESSED"
        rows.append([protocol, method, variant, metric, ref_value, value, allowed, status])
    return rows, ok


def _stage(name: str, update: bool, reference: Path, work_dir: Path, seeds: str) -> bool:
    """Run one stage, compare (or rewrite) its reference; True when nothing regressed."""
    out = work_dir / f"results-{name}"
    if out.exists():
        shutil.rmtree(out)
    if name == "smoke":
        # every method, the demo's and those run by name, so their plumbing is covered too
        run(task="all", dataset="synthetic", preset="smoke", methods=",".join(ALL_METHODS), seeds=seeds, out=out,
            work=work_dir, figures=False, device="cpu", ablations="all")
    else:
        run(task="all", dataset="synthetic", preset="tiny", methods=LEARNING_METHODS, seeds="0", out=out,
            work=work_dir, figures=False, device="cpu")
    measured = read_jsonl(out / "records.jsonl")
    claims_ok = True
    if name == "learning":
        results = evaluate_claims(measured)
        print(tabulate(claims_table(results), headers=["claim (OneGAN, tiny, seed 0)", "OneGAN", "floor", "status"]))
        claims_ok = all(r.status == "holds" for r in results if r.claim.required)
    if update:
        with atomic_path(reference) as tmp:
            shutil.copyfile(out / "records.jsonl", tmp)
        print(f"reference rewritten: {reference} ({len(measured)} records)")
        return claims_ok
    if not reference.exists():
        print(f"no reference records at {reference}; create them with `bench check --update`")
        return False
    rows, ok = compare(read_jsonl(reference), measured)
    headers = ["protocol", "method", "variant", "metric", "reference", "measured", "allowed", "status"]
    print(tabulate(rows, headers=headers, floatfmt=".4g"))
    return ok and claims_ok


@dataclass(frozen=True)
class CheckOptions:
    """What ``bench check`` (and ``check``) takes; field order is the help's order."""

    update: bool = field(default=False, metadata=cli("rewrite results/reference from this run"))
    work: str | Path | None = field(default=None, metadata=cli("work directory (default: a fresh temporary one)"))
    seeds: str = field(default="0", metadata=cli("seeds of the smoke stage"))
    stage: str = field(default="all", metadata=cli(
        "smoke (plumbing, ~2 min), learning (OneGAN at tiny with its claims, ~10 min) or all",
        choices=[*STAGES, "all"]))


DEFAULTS = CheckOptions()


def check(update: bool = DEFAULTS.update, work: str | Path | None = DEFAULTS.work, seeds: str = DEFAULTS.seeds,
          stage: str = DEFAULTS.stage, *, reference: Path = REFERENCE,
          learning_reference: Path = LEARNING_REFERENCE) -> int:
    """The API behind ``bench check`` (the options of ``CheckOptions``; ``stage`` "all" runs both, in
    ``STAGES``' order): 0 when nothing regressed, 1 otherwise. ``reference`` and ``learning_reference``
    (the Python API only) are the stages' reference records.

    Without ``work`` the run goes to a fresh temporary directory (datasets, checkpoints, records: about
    90 MB), removed afterwards when nothing regressed and kept, with its path printed, when something did.
    """
    if stage not in (*STAGES, "all"):
        raise UserError(f"unknown stage {stage!r}; choose {', '.join(STAGES)} or all")
    temporary = work is None
    work_dir = Path(tempfile.mkdtemp(prefix="bench-check-")) if temporary else Path(work)
    references = {"smoke": reference, "learning": learning_reference}
    stages = STAGES if stage == "all" else (stage,)
    ok = True
    try:
        for name in stages:
            print(f"bench check: stage {name}")
            stage_ok = _stage(name, update, references[name], work_dir, seeds)
            print(f"bench check: stage {name}: " + ("no regression" if stage_ok else
                                                    "REGRESSION (see rows marked REGRESSED/MISSING/FAILED)"))
            ok &= stage_ok
    except BaseException:
        ok = False
        raise
    finally:
        if temporary and ok:
            shutil.rmtree(work_dir, ignore_errors=True)
        elif temporary:
            print(f"bench check: the run's files are kept for inspection in {work_dir}")
    print("bench check: " + ("no regression" if ok else "REGRESSION"))
    return 0 if ok else 1

