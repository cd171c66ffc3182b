"""Evaluator classifiers: training, held-out accuracy, resume, checkpoint round trip, registry."""

import numpy as np
import pytest
import torch

from benchmark import evaluator_training as evaluator_module
from benchmark.cli import main as bench_main
from benchmark.evaluator_training import heldout_split, train_evaluator
from benchmark.features import evaluator_summary, extract, get_extractor, load_evaluator
from benchmark.features.evaluator import EvaluatorNet, InvalidCheckpointError
from data_prep.datasets import ObjectImages


@pytest.fixture(scope="module")
def trained(tiny_prepared, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("evaluator") / "small.pt"
    return train_evaluator(tiny_prepared, "small", out, epochs=6, lr=1e-2, batch_size=8, device="cpu",
                           progress=False)


def test_heldout_split_is_stratified_disjoint_and_seeded():
    labels = np.repeat(np.arange(3), [10, 5, 1])
    train, heldout = heldout_split(labels, 0.2, seed=0)
    assert np.intersect1d(train, heldout).size == 0 and len(train) + len(heldout) == len(labels)
    assert np.bincount(labels[heldout], minlength=3).tolist() == [2, 1, 0]
    assert np.array_equal(heldout, heldout_split(labels, 0.2, seed=0)[1])
    assert not np.array_equal(heldout, heldout_split(labels, 0.2, seed=1)[1])


def test_training_records_heldout_accuracy_and_learns(trained):
    summary = evaluator_summary(trained)
    assert summary["epoch"] == 6 and len(summary["history"]) == 6
    assert summary["heldout_count"] == 8 and summary["train_count"] == 32
    # Four colour classes: far above chance (0.25) after a few epochs.
    assert summary["heldout_accuracy"] >= 0.75


def test_checkpoint_round_trip_and_registry(trained, tiny_prepared):
    extractor = load_evaluator(trained, device="cpu")
    features, probs = extract(ObjectImages(tiny_prepared), extractor, batch_size=16, progress=False)
    assert features.shape == (40, 128) and probs.shape == (40, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    again = get_extractor(f"evaluator:{trained}", device="cpu")
    assert again.identity == extractor.identity and again.identity.startswith("evaluator-small:")
    features_again, probs_again = extract(ObjectImages(tiny_prepared), again, batch_size=7, progress=False)
    np.testing.assert_allclose(features_again, features, rtol=1e-5, atol=1e-6)
    # Same predictions as the network before saving: accuracy on all images matches argmax of labels.
    labels = ObjectImages(tiny_prepared).class_ids
    assert (probs.argmax(axis=1) == labels).mean() >= 0.75


def test_interrupted_training_resumes_to_the_same_weights(tiny_prepared, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    options = dict(epochs=2, lr=1e-2, batch_size=8, device="cpu", progress=False)
    straight = train_evaluator(tiny_prepared, "small", tmp_path / "straight.pt", **options)

    real_accuracy, calls = evaluator_module._accuracy, []

    def interrupt_in_second_epoch(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_accuracy(*args)

    monkeypatch.setattr(evaluator_module, "_accuracy", interrupt_in_second_epoch)
    resumed = tmp_path / "resumed.pt"
    with pytest.raises(KeyboardInterrupt):
        train_evaluator(tiny_prepared, "small", resumed, **options)
    monkeypatch.setattr(evaluator_module, "_accuracy", real_accuracy)
    assert evaluator_summary(resumed)["epoch"] == 1
    with pytest.raises(InvalidCheckpointError, match="unfinished"):
        load_evaluator(resumed)
    train_evaluator(tiny_prepared, "small", resumed, **options)
    a = torch.load(straight, weights_only=True)["model"]
    b = torch.load(resumed, weights_only=True)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    with pytest.raises(InvalidCheckpointError, match="another run"):
        train_evaluator(tiny_prepared, "small", resumed, seed=1, **{**options, "epochs": 3})


def test_bad_checkpoints_and_options(tmp_path, tiny_prepared):
    with pytest.raises(InvalidCheckpointError, match="not found"):
        load_evaluator(tmp_path / "absent.pt")
    torch.save({"something": 1}, tmp_path / "foreign.pt")
    with pytest.raises(InvalidCheckpointError, match="not an evaluator checkpoint"):
        load_evaluator(tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="unknown evaluator arch"):
        train_evaluator(tiny_prepared, "resnet", tmp_path / "x.pt")
    with pytest.raises(ValueError, match="unknown feature extractor"):
        get_extractor("clip")


def test_inception_v3_evaluator_builds_and_runs_at_small_input():
    torch.manual_seed(0)
    net = EvaluatorNet("inception_v3", num_classes=3, image_size=75).eval()
    with torch.inference_mode():
        features, logits = net.features_and_logits(torch.rand(2, 3, 32, 32))
    assert features.shape == (2, 2048) and logits.shape == (2, 3)


def test_cli_trains_and_prints_accuracy(tiny_prepared, tmp_path, capsys):
    out = tmp_path / "cli.pt"
    code = bench_main(["train-evaluator", "--data", str(tiny_prepared.root), "--arch", "small", "--epochs", "1",
                       "--batch-size", "16", "--out", str(out), "--device", "cpu"])
    assert code == 0 and out.is_file()
    assert "held-out accuracy" in capsys.readouterr().out


class Uint8Images(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = (images * 255).round().to(torch.uint8)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def test_scores_agree_with_torch_fidelity_on_the_same_evaluator(trained, tiny_prepared):
    # A second implementation: torch-fidelity's FID and IS through its own registry and loop.
    import torch_fidelity

    from benchmark.features.torch_fidelity_adapter import register_with_torch_fidelity
    from benchmark.metrics import fid, inception_score

    dataset = ObjectImages(tiny_prepared)
    # Quantise first, as torch-fidelity's uint8 input does, so both see identical pixels.
    images = (torch.stack([dataset[i]["image"] for i in range(len(dataset))]) * 255).round() / 255
    fakes = images.flip(-1).roll(1, dims=0)[:30]
    extractor = load_evaluator(trained, device="cpu")
    real_features, _ = extract(images, extractor, progress=False)
    fake_features, fake_probs = extract(fakes, extractor, progress=False)
    theirs = torch_fidelity.calculate_metrics(
        input1=Uint8Images(fakes), input2=Uint8Images(images), cuda=False, fid=True, isc=True, isc_splits=3,
        feature_extractor=register_with_torch_fidelity(), feature_extractor_weights_path=str(trained),
        cache=False, verbose=False, save_cpu_ram=True)
    assert fid(real_features, fake_features) == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    mean, std = inception_score(fake_probs, splits=3)  # same seeded shuffle as torch-fidelity
    assert mean == pytest.approx(theirs["inception_score_mean"], rel=1e-4)
    assert std == pytest.approx(theirs["inception_score_std"], rel=1e-3, abs=1e-6)


def test_init_weights_errors(tiny_prepared, tmp_path):
    from core.errors import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="inception_v3_google-0cc3c7bd.pth"):
        train_evaluator(tiny_prepared, "inception_v3", tmp_path / "x.pt", init=tmp_path / "absent.pth",
                        epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="applies to the inception_v3"):
        train_evaluator(tiny_prepared, "small", tmp_path / "y.pt", init=tmp_path / "absent.pth", epochs=1,
                        device="cpu", progress=False)
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_imagenet_init_loads_a_torchvision_state_dict(tmp_path):
    from torchvision.models import inception_v3

    from benchmark.evaluator_training import load_imagenet_init

    torch.manual_seed(1)
    imagenet = inception_v3(weights=None, aux_logits=True, init_weights=True)  # the layout of the real file
    torch.save(imagenet.state_dict(), tmp_path / "init.pth")
    net = EvaluatorNet("inception_v3", num_classes=3, image_size=75)
    load_imagenet_init(net, tmp_path / "init.pth")
    torch.testing.assert_close(net.backbone.Conv2d_1a_3x3.conv.weight, imagenet.Conv2d_1a_3x3.conv.weight)
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a torchvision inception_v3"):
        load_imagenet_init(net, tmp_path / "other.pth")
