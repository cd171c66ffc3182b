"""Speed of the measuring instruments, offline:

1. FID on two 10k x 2048 random feature sets (our symmetric-eigenvalue route vs torch-fidelity's
   ``fid_statistics_to_metric``, and their agreement);
2. feature-extraction throughput (images/s) of our path (``extract`` + ``InceptionExtractor``) vs
   torch-fidelity's own loop (``get_featuresdict_from_dataset``) on the same images, with a
   random-weight InceptionV3 saved by this script (nothing is downloaded);
3. a generation evaluation with a cold real-feature cache vs the same evaluation again (cached).

    .venv/bin/python scripts/bench_metrics.py [--images 64] [--device cpu] \\
        [--out results/studies/throughput/bench_metrics.txt]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.utils import get_featuresdict_from_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark.features import InceptionExtractor, extract  # noqa: E402
from benchmark.features.inception import save_random_inception_weights  # noqa: E402
from benchmark.generation_scores import generation_scores  # noqa: E402
from benchmark.metrics import features_to_statistics, fid  # noqa: E402
from core.atomic import write_text_atomic  # noqa: E402
from core.device import pick_device  # noqa: E402
from core.provenance import git_commit, package_versions  # noqa: E402
from data_prep.datasets import ObjectImages  # noqa: E402
from data_prep.prepared import load_prepared  # noqa: E402
from data_prep.synthetic import write_synthetic  # noqa: E402


class Uint8Images(Dataset):
    """The same images as uint8 tensors, the input torch-fidelity's loop expects."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = (images * 255).round().to(torch.uint8)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench_fid(lines: list[str]) -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(10_000, 2048))
    fake = rng.normal(size=(10_000, 2048)) @ (np.eye(2048) + 0.01 * rng.normal(size=(2048, 2048))) + 0.05
    ours, seconds = timed(lambda: fid(real, fake))
    stats_seconds = timed(lambda: (features_to_statistics(real), features_to_statistics(fake)))[1]
    (mu1, s1), (mu2, s2) = features_to_statistics(real), features_to_statistics(fake)
    theirs, their_seconds = timed(lambda: fid_statistics_to_metric({"mu": mu1, "sigma": s1},
                                                                   {"mu": mu2, "sigma": s2}, False))
    theirs = theirs["frechet_inception_distance"]
    lines += [
        "## FID, 10,000 x 2048 random features per side",
        f"ours (features -> statistics -> eigenvalue route): {seconds:.2f} s "
        f"(of which statistics {stats_seconds:.2f} s)",
        f"torch-fidelity fid_statistics_to_metric (statistics given): {their_seconds:.2f} s",
        f"values: ours {ours:.6f}, torch-fidelity {theirs:.6f}, relative difference {abs(ours - theirs) / theirs:.2e}",
        "",
    ]


def bench_extraction(lines: list[str], weights: Path, count: int, device: str, batch_size: int) -> None:
    images = torch.rand(count, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    ours_extractor = InceptionExtractor(weights, device=device)
    extract(images[:batch_size], ours_extractor, batch_size=batch_size, progress=False)  # warm-up
    (features, _), ours_seconds = timed(lambda: extract(images, ours_extractor, batch_size, progress=False))
    reference = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                            feature_extractor_weights_path=str(weights)).to(device)
    cuda = device.startswith("cuda")
    theirs, their_seconds = timed(lambda: get_featuresdict_from_dataset(
        Uint8Images(images), reference, batch_size, cuda, save_cpu_ram=True, verbose=False))
    difference = np.abs(features - theirs["2048"].double().numpy()).max()
    lines += [
        f"## Feature extraction, InceptionV3 (random weights), {count} images 64 px -> 299 px, batch {batch_size}, "
        f"{device}",
        f"ours (extract + InceptionExtractor): {count / ours_seconds:.2f} images/s ({ours_seconds:.1f} s)",
        f"torch-fidelity get_featuresdict_from_dataset: {count / their_seconds:.2f} images/s ({their_seconds:.1f} s)",
        f"max |feature difference|: {difference:.2e}",
        "",
    ]


def bench_cache(lines: list[str], weights: Path, scratch: Path, count: int, device: str, batch_size: int) -> None:
    prepared = load_prepared(write_synthetic(scratch / "synthetic", classes=4, parents=2,
                                             images=int(count * 1.25), size=64, seed=0))
    extractor = InceptionExtractor(weights, device=device)
    real_count = len(ObjectImages(prepared))
    fakes = torch.rand(count, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    codes = np.arange(count) % prepared.num_classes
    real_conditions = ObjectImages(prepared).class_ids

    def evaluate() -> dict:
        return generation_scores(prepared, fakes, codes, real_conditions, extractor, cache_dir=scratch / "cache",
                                 batch_size=batch_size, is_splits=2, progress=False)

    cold, cold_seconds = timed(evaluate)
    warm, warm_seconds = timed(evaluate)
    assert not cold["real_from_cache"] and warm["real_from_cache"] and cold["fid"] == warm["fid"]
    lines += [
        f"## Generation evaluation ({real_count} real synthetic images, {count} fakes, InceptionV3 random weights)",
        f"cold (real + fake extracted): {cold_seconds:.1f} s",
        f"cached real statistics (fake side only): {warm_seconds:.1f} s",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=64, help="images per extraction benchmark")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default=str(pick_device()))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    parser.add_argument("--out", type=Path, default=Path("results/studies/throughput/bench_metrics.txt"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} thread(s)"
    lines = [f"# bench_metrics ({device_name}; commit {git_commit()}; torch {package_versions()['torch']})", ""]
    bench_fid(lines)
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        weights = save_random_inception_weights(Path(scratch) / "random-inception.pth")
        bench_extraction(lines, weights, args.images, args.device, args.batch_size)
        bench_cache(lines, weights, Path(scratch), args.images, args.device, args.batch_size)
    text = "\n".join(lines)
    print(text[text.index("## Feature"):])
    write_text_atomic(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
