"""Our evaluator classifiers inside torch-fidelity's own feature-extractor registry, so that
``torch_fidelity.calculate_metrics(..., feature_extractor="onegan-evaluator",
feature_extractor_weights_path=CHECKPOINT)`` scores with them. It also gives the tests a second,
independent implementation of FID and IS to agree with.
"""

from __future__ import annotations

import torch
from torch_fidelity import register_feature_extractor
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from benchmark.features.evaluator import load_evaluator

TORCH_FIDELITY_NAME = "onegan-evaluator"


class TorchFidelityEvaluator(FeatureExtractorBase):
    """torch-fidelity view of an evaluator checkpoint: uint8 (N, 3, H, W) in, ('features', 'logits') out."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **kwargs: object) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(f"{TORCH_FIDELITY_NAME} needs feature_extractor_weights_path=<evaluator checkpoint>")
        self.net = load_evaluator(feature_extractor_weights_path, device="cpu").net

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features, logits = self.net.features_and_logits(images.float() / 255)
        outputs = {"features": features, "logits": logits}
        return tuple(outputs[name] for name in self.features_list)


def register_with_torch_fidelity() -> str:
    """Register the adapter once (idempotent); returns the name to pass as ``feature_extractor``."""
    if TORCH_FIDELITY_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(TORCH_FIDELITY_NAME, TorchFidelityEvaluator)
    return TORCH_FIDELITY_NAME
