"""A checkpoint is data, not code: every load path of the suite refuses a pickle that would run code."""

from __future__ import annotations

import importlib
import os
import pickle

import pytest
import torch

from benchmark.cli import main as cli_main
from benchmark.methods import METHODS
from core.checkpoint_file import UnsafeCheckpointError, load_data_only


class _Payload:
    """Unpickling this calls os.system: it would create the marker file."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(params=["torch-zip", "raw-pickle"])
def malicious(request, tmp_path):
    marker = tmp_path / "pwned"
    payload = {"method": "onegan", "config": {}, "evil": _Payload(marker)}
    path = tmp_path / "run" / "checkpoint.pt"
    path.parent.mkdir()
    if request.param == "torch-zip":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=4))
    assert not marker.exists()
    return path, marker


def _loaders():
    """Every function of the suite that opens a checkpoint or weights file, by a readable name."""
    from baselines.gan_training import load_checkpoint as gan_load
    from benchmark.features.evaluator import load_evaluator
    from benchmark.features.inception import InceptionExtractor
    from core.training_run import read_checkpoint
    from data_prep.masks.deeplab_torchvision import load_deeplab
    from onegan.checkpoint import load_checkpoint as onegan_load

    loaders = {f"{name}.load": importlib.import_module(entry.module).load
               for name, entry in METHODS.items() if hasattr(importlib.import_module(entry.module), "load")}
    loaders.update({
        "onegan.checkpoint.load_checkpoint": onegan_load,
        "gan_training.load_checkpoint": lambda p: gan_load(p, "finegan"),
        "training_run.read_checkpoint": lambda p: read_checkpoint(p, "iic"),
        "evaluator": load_evaluator,
        "deeplab weights": load_deeplab,
        "FID inception weights": lambda p: InceptionExtractor(p, device="cpu"),
        "load_data_only": load_data_only,
    })
    return loaders


@pytest.mark.parametrize("loader", sorted(_loaders()))
def test_every_load_path_refuses_code(malicious, loader):
    path, marker = malicious
    with pytest.raises(UnsafeCheckpointError) as err:
        _loaders()[loader](path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "posix.system" in message  # names the offending type
    assert not marker.exists()


def test_bench_run_with_a_malicious_checkpoint_says_why_in_one_line(malicious, tmp_path, capsys):
    path, marker = malicious
    code = cli_main(["run", "--task", "segmentation", "--methods", "onegan", "--preset", "smoke",
                     "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"), "--no-figures",
                     "--checkpoint", f"onegan={path}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("bench run: error: ") and "refused to load" in err[-1] and "posix.system" in err[-1]
    assert not marker.exists()
    assert not (tmp_path / "work" / "checkpoints").exists()  # nothing was trained instead


def test_what_the_suite_writes_loads_as_data(tmp_path):
    """RNG states and configs are stored as tensors and plain types."""
    import numpy as np

    from onegan.checkpoint import restore_rng_states, save_checkpoint

    np.random.seed(3)
    save_checkpoint(tmp_path / "c.pt", {"method": "onegan", "config": {"a": 1}})
    expected = np.random.rand(4)
    state = load_data_only(tmp_path / "c.pt")
    np.random.seed(99)
    restore_rng_states(state["rng"])
    assert np.array_equal(np.random.rand(4), expected)
