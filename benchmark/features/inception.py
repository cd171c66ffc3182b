"""The standard FID InceptionV3 (TensorFlow 2015-12-05 weights ported by torch-fidelity), offline.

The network is torch-fidelity's ``FeatureExtractorInceptionV3``; its weights come from a local file
given as ``--inception-weights FILE`` or in the environment variable ``ONEGAN_INCEPTION_WEIGHTS``.
Nothing is downloaded: without the file, ``MissingWeightsError`` says which file and where to get it.

Features are the 2048-d pool features (FID); probabilities are the softmax of the unbiased logits
over the 1008 outputs, as torch-fidelity's Inception Score uses. Images in [0, 1] are quantised to
uint8 (what torch-fidelity expects, and what saving the images as PNG would do).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch

from benchmark.features.registry import Extractor, default_device, register_extractor
from core.atomic import atomic_path
from core.checkpoint_file import load_data_only
from core.errors import MissingWeightsError

WEIGHTS_ENV = "ONEGAN_INCEPTION_WEIGHTS"
WEIGHTS_FILE_NAME = "weights-inception-2015-12-05-6726825d.pth"
FEATURE_LAYER, LOGITS_LAYER = "2048", "logits_unbiased"


def resolve_weights(weights: str | os.PathLike | None = None) -> Path:
    """The weights file from the argument, else from $ONEGAN_INCEPTION_WEIGHTS; MissingWeightsError if absent."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    candidate = weights if weights is not None else os.environ.get(WEIGHTS_ENV)
    how_to_get = (f"download {URL_INCEPTION_V3} on a machine with internet and pass it with "
                  f"--inception-weights FILE or set {WEIGHTS_ENV}=FILE")
    if not candidate:
        raise MissingWeightsError(f"the FID InceptionV3 weights {WEIGHTS_FILE_NAME} were not given "
                                  f"(no --inception-weights and {WEIGHTS_ENV} is unset): {how_to_get}")
    path = Path(candidate).expanduser()
    if not path.is_file():
        raise MissingWeightsError(f"the FID InceptionV3 weights {WEIGHTS_FILE_NAME} are not at {path}: {how_to_get}")
    return path


def file_digest(path: Path, length: int = 16) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


class InceptionExtractor(Extractor):
    """torch-fidelity's InceptionV3 with weights from a local file."""

    def __init__(self, weights: str | os.PathLike | None = None, device: str | torch.device | None = None) -> None:
        path = resolve_weights(weights)
        # torch-fidelity would torch.load the file with weights_only=False (full pickle): read it here as
        # data only and hand the network the tensors.
        state = load_data_only(path)
        self.network = _unloaded_network([FEATURE_LAYER, LOGITS_LAYER])
        torch.nn.Module.load_state_dict(self.network, state)
        self.identity = f"inception-v3-fid:{file_digest(path)}"
        self.weights_path = path
        self.to(device or default_device())

    def to(self, device: str | torch.device) -> InceptionExtractor:
        super().to(device)
        self.network.to(self.device)
        return self

    def features_and_probs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = self.check_images(images).to(self.device)
        as_uint8 = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        features, logits = self.network(as_uint8)
        return features, torch.softmax(logits.double(), dim=1).float()


def _unloaded_network(layers: list[str]) -> torch.nn.Module:
    """torch-fidelity's InceptionV3 that keeps its random initialisation instead of loading weights.

    torch-fidelity is imported here, not with the module: it imports torchvision, whose import pulls in
    torch._dynamo (~2 s), and every process that merely scores segmentation or clustering would pay it."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class UnloadedInception(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):
            return None

    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "empty.pth"
        torch.save({}, empty)
        return UnloadedInception("inception-v3-compat", layers, feature_extractor_weights_path=str(empty))


def save_random_inception_weights(out: str | os.PathLike, seed: int = 0) -> Path:
    """Write a randomly initialised InceptionV3 in the weights-file format, for tests and benchmarks
    that must run offline (its features are meaningless for real scoring). Convolutions get He-normal
    weights so that activations keep their scale through the 90-odd layers and features vary."""
    out = Path(out)
    torch.manual_seed(seed)
    network = _unloaded_network([FEATURE_LAYER])
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    with atomic_path(out) as tmp:
        torch.save(network.state_dict(), tmp)
    return out


register_extractor("inception", InceptionExtractor)
