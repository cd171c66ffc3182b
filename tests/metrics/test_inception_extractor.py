"""The standard FID InceptionV3 path: offline weights only, same outputs as torch-fidelity's own."""

import numpy as np
import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from benchmark.features import WEIGHTS_ENV, WEIGHTS_FILE_NAME, extract, get_extractor
from benchmark.features.inception import InceptionExtractor, save_random_inception_weights
from core.errors import MissingWeightsError


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    return save_random_inception_weights(tmp_path_factory.mktemp("inception") / WEIGHTS_FILE_NAME, seed=0)


def test_missing_weights_name_the_file_and_where(monkeypatch, tmp_path):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(MissingWeightsError, match=WEIGHTS_FILE_NAME) as err:
        get_extractor("inception")
    assert WEIGHTS_ENV in str(err.value) and "https://" in str(err.value)
    absent = tmp_path / "nowhere.pth"
    with pytest.raises(MissingWeightsError, match=str(absent)):
        InceptionExtractor(absent)
    monkeypatch.setenv(WEIGHTS_ENV, str(absent))
    with pytest.raises(MissingWeightsError, match="nowhere.pth"):
        get_extractor("inception")


def test_matches_torch_fidelity_on_the_same_weights(random_weights, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv(WEIGHTS_ENV, str(random_weights))
    extractor = get_extractor("inception", device="cpu")
    assert extractor.identity.startswith("inception-v3-fid:")
    images = torch.rand(3, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    features, probs = extract(images, extractor, batch_size=2, progress=False)
    assert features.shape == (3, 2048) and probs.shape == (3, 1008)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    reference = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                            feature_extractor_weights_path=str(random_weights))
    with torch.no_grad():
        ref_features, ref_logits = reference((images * 255).round().to(torch.uint8))
    np.testing.assert_allclose(features, ref_features.double().numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(probs, torch.softmax(ref_logits.double(), 1).numpy(), rtol=1e-4, atol=1e-7)
    assert features.std(axis=0).mean() > 0  # a usable random network: features differ across images
