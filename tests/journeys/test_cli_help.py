"""Journey: read the help, then do what it says. `bench --help` opens with a whole sentence, every
option of every subcommand is explained (truthfully where it names a preset's
behaviour), `bench table` writes a file with --output (--out, whose name clashed with `bench run
--out`, a folder, still works with a note), and an option that would be ignored is an error."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from journey_helpers import one_line_error, run_bench, synthetic

from benchmark.cli import SUBCOMMANDS, build_parser, subcommand_parser
from benchmark.presets import PRESETS

REPO = Path(__file__).resolve().parents[2]


def _parser(name: str) -> argparse.ArgumentParser:
    return subcommand_parser(name)[1]


def test_bench_help_opens_with_a_whole_sentence(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    description = " ".join(text.split("\n\n")[1].split())  # the paragraph after the usage lines
    assert description.endswith(".") and description[0].isupper()
    assert ". " not in description  # exactly one sentence, not a cut one
    assert "subcommand" not in description.lower()  # the developers' docstring stays out of it


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_every_option_is_explained(name) -> None:
    unexplained = [action.option_strings or action.dest for action in _parser(name)._actions
                   if action.option_strings != ["-h", "--help"] and not (action.help or "").strip()]
    assert unexplained == []


def test_ablation_preset_help_says_what_each_preset_does() -> None:
    action = next(a for a in _parser("run")._actions if "--ablation-preset" in a.option_strings)
    text = " ".join(action.help.split())
    assert "tiny's demo uses smoke" not in text
    smoke, tiny = PRESETS["smoke"], PRESETS["tiny"]
    assert smoke.ablation_preset is None and f"smoke trains them for {smoke.ablation_iterations} iterations" in text
    assert tiny.ablation_preset is None and tiny.ablation_iterations is None and "tiny and paper at their full" in text


def test_methods_help_names_a_doc_that_exists() -> None:
    action = next(a for a in _parser("run")._actions if "--methods" in a.option_strings)
    assert "external:name=NAME" in action.help and "docs/external-methods.md" in action.help
    assert (REPO / "docs" / "external-methods.md").is_file()


def test_table_output_is_a_file_and_out_is_its_deprecated_name(tmp_path, capsys) -> None:
    record = {"method": "centred-box", "variant": None, "dataset": "synthetic", "dataset_fingerprint": "x",
              "task": "segmentation", "metric": "iou", "value": 42.0, "seed": 0, "preset": "smoke",
              "protocol": "onegan2020@v1", "source": "measured"}
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    status, out, err = run_bench(capsys, "table", "--results", tmp_path, "--tables", "2", "--output",
                                 tmp_path / "tables.md")
    assert status == 0 and out == "" and "42.0" in (tmp_path / "tables.md").read_text()
    status, out, err = run_bench(capsys, "table", "--results", tmp_path, "--tables", "2", "--out",
                                 tmp_path / "old.md")
    assert status == 0 and "42.0" in (tmp_path / "old.md").read_text()
    assert "--out is deprecated" in err and "--output FILE" in err
    (tmp_path / "folder").mkdir()
    status, _, err = run_bench(capsys, "table", "--results", tmp_path, "--output", tmp_path / "folder")
    assert status == 2 and "is a folder" in one_line_error(err)


def test_a_checkpoint_for_a_method_not_scored_is_an_error(tmp_path, capsys) -> None:
    world = synthetic(tmp_path / "syn", images=40, size=16)
    (tmp_path / "onegan.pt").write_bytes(b"")
    common = ["--dataset", world, "--preset", "smoke", "--out", tmp_path / "out", "--work", tmp_path / "work",
              "--no-figures"]
    status, _, err = run_bench(capsys, "run", "--methods", "centred-box", "--checkpoint",
                               f"onegan={tmp_path / 'onegan.pt'}", *common)
    line = one_line_error(err)
    assert status == 2 and "--checkpoint onegan=" in line and "'onegan' is not in --methods" in line
    status, _, err = run_bench(capsys, "run", "--methods", "centred-box", "--checkpoint",
                               f"centred-box={tmp_path / 'onegan.pt'}", *common)
    assert status == 2 and "centred-box has no checkpoint" in one_line_error(err)
    assert not (tmp_path / "out" / "records.jsonl").exists()
