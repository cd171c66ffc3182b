"""Tables come from records only: values, mean ± std over seeds, bold best, arrows, reported rows."""

from __future__ import annotations

import shutil
import statistics
import subprocess

import pytest

from benchmark.table import aggregate, build_tables, render


def _rec(method, metric, value, seed=0, variant=None, dataset="synthetic"):
    return {"method": method, "variant": variant, "dataset": dataset, "metric": metric, "value": value,
            "seed": seed, "task": "t", "source": "measured", "dataset_fingerprint": "f"}


RECORDS = [
    _rec("onegan", "iou", 60.0, 0), _rec("onegan", "iou", 62.0, 1),
    _rec("centred-box", "iou", 50.0), _rec("centred-box", "iou", 51.0),  # same seed: latest wins
    _rec("onegan", "fid", 30.0), _rec("finegan", "fid", 40.0), _rec("dataset", "fid", 0.0),
    _rec("onegan", "iou", 40.0, variant="no-rm"), _rec("onegan", "iou", 55.0, variant="reference"),
]


def test_aggregate_mean_std_latest_wins():
    stats = aggregate(RECORDS)
    mean, std, n = stats[("onegan2020@v1", "synthetic", "onegan", "", "iou")]
    assert (mean, n) == (61.0, 2) and std == pytest.approx(statistics.stdev([60.0, 62.0]))  # sample std: 1.41
    assert stats[("onegan2020@v1", "synthetic", "centred-box", "", "iou")][:1] == (51.0,)


def test_markdown_measured_only_bold_and_arrows():
    text = render(build_tables(RECORDS, ["1", "2"], reported="none"), "markdown")
    assert "**61.0 ± 1.4**" in text          # best IOU, higher is better
    assert "| centred box" in text and "51.0" in text
    assert "**30.0**" in text and "40.0" in text  # best FID is the lowest; the Dataset row is not eligible
    assert "FID↓" in text and "IOU↑" in text
    assert "| Dataset" in text and "**0.0**" not in text


def test_table3_blocks_and_reported_rows():
    text = render(build_tables(RECORDS, ["3"], reported="all"), "markdown")
    assert "no loss L_RM" in text and "40.0" in text and "OneGAN (same budget)" in text
    assert "GLU-INorm (paper)" in text and "122.0" in text   # a reported cell of Table 3(a)


def test_reported_marks_and_crosses():
    text = render(build_tables(RECORDS, ["2"], reported="all"), "markdown")
    assert "UISB§ (paper)" in text and "44.2§" in text
    assert "✗" in text and "JULE† (paper)" in text
    assert "**55.5**" in text  # OneGAN's paper IOU on Birds is the best non-§ value in that column


def test_latex_is_a_standalone_booktabs_document(tmp_path):
    text = render(build_tables(RECORDS, ["1", "2", "3"], reported="all"), "latex")
    assert text.startswith(r"\documentclass") and r"\toprule" in text and r"\end{document}" in text
    assert r"\textbf{61.0 $\pm$ 1.4}" in text and r"$\downarrow$" in text and r"$\times$" in text
    if shutil.which("pdflatex") is None:
        pytest.skip("no LaTeX compiler here; the document was checked textually")
    (tmp_path / "t.tex").write_text(text)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stdout[-2000:]


def test_each_protocol_gets_its_own_tables_with_its_papers_rows():
    c3 = [{**_rec("onegan", "acc", 0.5), "protocol": "c3gan2022@v1"},
          {**_rec("onegan", "iou", 70.0), "protocol": "drc2021@v1"}]
    tables = build_tables(RECORDS + [_rec("onegan", "acc", 0.777)] + c3, ["2"], reported="all")
    by_protocol = {t.protocol: t for t in tables}
    assert set(by_protocol) == {"onegan2020@v1", "c3gan2022@v1", "drc2021@v1"}
    assert by_protocol["c3gan2022@v1"].metrics == ("acc", "nmi")      # C3-GAN defines no mask scores
    assert by_protocol["drc2021@v1"].metrics == ("iou", "dice")
    text = render(tables, "markdown")
    assert "[protocol c3gan2022@v1]" in text and "C3-GAN (reported)" in text and ".276" in text
    assert "DRC (all data) unverified (reported)" in text and "56.4" in text
    c3_text = render([by_protocol["c3gan2022@v1"]], "markdown")
    assert "(paper)" not in c3_text and ".500" in c3_text and ".777" not in c3_text   # no OneGAN-protocol value


def test_ablation_rows_laid_out_as_the_paper_prints_them():
    """The one declaration (onegan.config.ABLATION_ROWS) gives the paper's Table 3 blocks, labels and
    order, and bench run's variants in that order (known answers read off the paper's tables)."""
    from benchmark.run import ABLATION_VARIANTS
    from benchmark.table import TABLE3_BLOCKS, TABLE12_ABLATIONS

    assert list(TABLE12_ABLATIONS.items()) == [("no-real-recon", "no real recon"), ("phase1-only", "Phase I only"),
                                               ("no-multi-phase", "no multi-phase")]
    assert [(block, list(rows.values())) for block, rows in TABLE3_BLOCKS.items()] == [
        ("(a) normalization", ["GLU-INorm", "LNorm", "INorm"]),
        ("(b) modules", ["no bypass", "no mixup(1,2)", "no mixup(3,4)"]),
        ("(c) losses", ["no loss L_RM", "no loss L_VAE", "no loss L_PER"])]
    assert ABLATION_VARIANTS == (*TABLE12_ABLATIONS, *(v for rows in TABLE3_BLOCKS.values() for v in rows))
