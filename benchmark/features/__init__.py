"""Images -> features and class probabilities for the generation metrics.

``get_extractor("inception", weights=FILE)`` (the standard FID InceptionV3, local weights only) or
``get_extractor("evaluator:PATH")`` (a classifier trained by ``bench train-evaluator``, see
``benchmark.evaluator_training``), then
``extract(images, extractor, batch_size)`` -> (features, probs). Real-data features are cached by
``benchmark.stats_cache``; ``benchmark.generation_scores`` computes Table 1's numbers in one call.
"""

from benchmark.features.evaluator import EvaluatorExtractor, EvaluatorNet, evaluator_summary, load_evaluator
from benchmark.features.extract import extract
from benchmark.features.inception import WEIGHTS_ENV, WEIGHTS_FILE_NAME, InceptionExtractor, resolve_weights
from benchmark.features.registry import Extractor, get_extractor, register_extractor, registered_extractors

__all__ = [
    "EvaluatorExtractor", "EvaluatorNet", "Extractor", "InceptionExtractor", "WEIGHTS_ENV", "WEIGHTS_FILE_NAME",
    "evaluator_summary", "extract", "get_extractor", "load_evaluator", "register_extractor",
    "registered_extractors", "resolve_weights",
]
