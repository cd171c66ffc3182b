"""The demo's claims on records: mean − std over seeds against a floor (a method's metric + margin or
a constant); required claims fail, tracked ones only report."""

from benchmark.claims import CLAIMS, Claim, claims_table, evaluate_claims, variants_with_records


def _record(method, metric, value, seed=0, variant=None):
    return {"method": method, "metric": metric, "value": value, "seed": seed, "variant": variant}


IOU = next(c for c in CLAIMS if c.metric == "iou")
DIVERSITY = next(c for c in CLAIMS if c.metric == "diversity")


def test_iou_claim_uses_box_plus_ten_and_mean_minus_std():
    box = [_record("centred-box", "iou", 50.0)]
    steady = box + [_record("onegan", "iou", v, seed=s) for s, v in enumerate((61.0, 62.0, 63.0))]
    (result,) = evaluate_claims(steady, claims=(IOU,))
    assert result.floor == 60.0 and result.seeds == 3 and result.holds and result.status == "holds"
    # Same mean, wide spread: mean − std falls under the floor, so the claim fails.
    noisy = box + [_record("onegan", "iou", v, seed=s) for s, v in enumerate((50.0, 62.0, 74.0))]
    (result,) = evaluate_claims(noisy, claims=(IOU,))
    assert result.mean == 62.0 and not result.holds and result.status == "FAILED"


def test_constant_floor_tracked_claims_and_missing_values():
    (result,) = evaluate_claims([_record("onegan", "diversity", 0.49)], claims=(DIVERSITY,))
    assert result.floor == 0.5 and result.status == "FAILED"
    tracked = Claim("x", "acc", "kmeans-colour", "acc", 0.0, required=False)
    (result,) = evaluate_claims([_record("onegan", "acc", 0.3), _record("kmeans-colour", "acc", 0.31)],
                                claims=(tracked,))
    assert result.status == "not met (tracked)"
    (result,) = evaluate_claims([_record("kmeans-colour", "acc", 0.31)], claims=(tracked,))
    assert result.status == "MISSING" and claims_table([result])[0][1] == "–"


def test_variants_select_curve_budgets_in_iteration_order():
    records = [_record("onegan", "iou", 70.0, variant="@2400"), _record("onegan", "iou", 60.0, variant="@1200"),
               _record("centred-box", "iou", 50.0)]
    assert variants_with_records(records) == ["@1200", "@2400"]
    (at_1200,) = evaluate_claims(records, variant="@1200", claims=(IOU,))
    assert at_1200.mean == 60.0 and at_1200.status == "FAILED"
    (at_2400,) = evaluate_claims(records, variant="@2400", claims=(IOU,))
    assert at_2400.status == "holds"


def test_the_spread_is_the_sample_std_of_the_seeds():
    """mean − std uses n − 1 (statistics.stdev, an independent reference): with three seeds the
    population std would pass a floor that the sample std does not."""
    import statistics

    import numpy as np

    from benchmark.seed_spread import seed_std

    values = (0.30, 0.32, 0.35)
    assert seed_std(values) == statistics.stdev(values) and seed_std([0.4]) == 0.0 and seed_std([]) == 0.0
    mean = statistics.fmean(values)
    floor = mean - (np.std(values) + statistics.stdev(values)) / 2   # between the two forms of mean − std
    claim = Claim("x", "acc", None, None, floor, required=True)
    (result,) = evaluate_claims([_record("onegan", "acc", v, seed=s) for s, v in enumerate(values)], claims=(claim,))
    assert mean - np.std(values) > floor and result.std == statistics.stdev(values) and result.status == "FAILED"
    (one,) = evaluate_claims([_record("onegan", "acc", 0.4)], claims=(claim,))
    assert one.std == 0.0 and one.holds


def test_claims_text_reads_the_papers_protocol_only():
    from benchmark.claims import claims_text
    from benchmark.table import summary_table

    tagged = [{**r, "protocol": "onegan2020@v1", "task": "segmentation", "dataset": "synthetic",
               "dataset_fingerprint": "f", "source": "measured", "preset": "tiny"}
              for r in [_record("centred-box", "iou", 50.0)] + [_record("onegan", "iou", v, seed=s)
                                                                for s, v in enumerate((61.0, 62.0, 63.0))]]
    text = claims_text(tagged)
    row = next(line for line in text.splitlines() if line.startswith("| segmentation"))
    assert "62 ± 1 (3 seeds)" in row and "| holds" in row
    # the same numbers under another paper's protocol are not the demo's claims
    assert claims_text([{**r, "protocol": "c3gan2022@v1"} for r in tagged]) == ""
    assert claims_text([r for r in tagged if r["method"] != "onegan"]) == ""
    assert "Claims [onegan2020@v1]" in summary_table(tagged) and "holds" in summary_table(tagged)
    # one table per (dataset, preset): another dataset's OneGAN is not averaged in; smoke makes no claim
    other = [{**r, "dataset": "cub", "value": 10.0} for r in tagged]
    smoke = [{**r, "preset": "smoke", "value": 0.0} for r in tagged]
    text = claims_text(tagged + other + smoke)
    assert text.count("| segmentation") == 2
    assert "synthetic (f), preset tiny:" in text and "cub (f), preset tiny:" in text
    assert "62 ± 1 (3 seeds)" in text and "smoke" not in text and claims_text(smoke) == ""
