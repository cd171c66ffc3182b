"""The regression comparison flags worsening beyond tolerance, in the metric's direction only."""

from __future__ import annotations

from benchmark.check import compare


def _rec(metric, value, method="onegan"):
    return {"method": method, "variant": None, "dataset": "synthetic", "metric": metric, "value": value, "seed": 0}


def test_within_tolerance_passes_and_direction_matters():
    reference = [_rec("iou", 50.0), _rec("fid", 100.0), _rec("acc", 0.30)]
    rows, ok = compare(reference, [_rec("iou", 46.0), _rec("fid", 120.0), _rec("acc", 0.60)])
    assert ok
    assert {r[3]: r[7] for r in rows} == {"iou": "ok", "fid": "ok", "acc": "improved"}


def test_regression_and_missing_fail():
    reference = [_rec("iou", 50.0), _rec("fid", 100.0), _rec("nmi", 0.3, "iic")]
    rows, ok = compare(reference, [_rec("iou", 44.0), _rec("fid", 126.0)])
    assert not ok
    assert {r[3]: r[7] for r in rows} == {"iou": "REGRESSED", "fid": "REGRESSED", "nmi": "MISSING"}
    _, ok = compare(reference[:1], [_rec("iou", 45.0)])  # exactly at the 5-point tolerance: still ok
    assert ok


def test_protocols_never_compared_with_each_other():
    reference = [_rec("acc", 0.30)]                       # an old record: read as OneGAN's protocol
    measured = [{**_rec("acc", 0.30), "protocol": "c3gan2022@v1"}]
    rows, ok = compare(reference, measured)
    assert not ok and rows[0][0] == "onegan2020@v1" and rows[0][7] == "MISSING"
    rows, ok = compare(reference, [{**_rec("acc", 0.30), "protocol": "onegan2020@v1"}])
    assert ok and rows[0][7] == "ok"


def _check_with_stage_result(monkeypatch, tmp_path, stage_ok):
    """``check`` without --work, its stages replaced by one that writes a file and returns stage_ok."""
    import benchmark.check as check_module

    work = tmp_path / "bench-check-x"
    monkeypatch.setattr(check_module.tempfile, "mkdtemp", lambda prefix: (work.mkdir(), str(work))[1])

    def fake_stage(name, update, reference, work_dir, seeds):
        (work_dir / f"{name}.txt").write_text("records")
        return stage_ok

    monkeypatch.setattr(check_module, "_stage", fake_stage)
    return check_module.check(stage="smoke"), work


def test_temporary_work_dir_removed_when_nothing_regressed(monkeypatch, tmp_path):
    status, work = _check_with_stage_result(monkeypatch, tmp_path, stage_ok=True)
    assert status == 0 and not work.exists()


def test_temporary_work_dir_kept_on_regression(monkeypatch, tmp_path, capsys):
    status, work = _check_with_stage_result(monkeypatch, tmp_path, stage_ok=False)
    assert status == 1 and (work / "smoke.txt").exists()
    assert str(work) in capsys.readouterr().out
