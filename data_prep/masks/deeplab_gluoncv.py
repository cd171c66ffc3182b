"""The paper's pseudo-mask model: gluoncv ``deeplab_resnet101_coco`` (OneGAN §5, Dogs and Cars).

Runs in the ``gluoncv`` tox environment (mxnet 1.9.1 + gluoncv 0.10.5.post0 need numpy<1.24, so
they cannot live with the main environment). This module imports NO torch: only mxnet, gluoncv,
numpy, PIL and the torch-free ``data_prep.masks.pseudo``. mxnet and gluoncv are imported inside
functions so the main environment can import this file (for its CLI help and tests).

Usage (what ``bench prep --masks deeplabv3-gluoncv`` runs; the job file is written by the build)::

    tox -e gluoncv -- --weights DIR --jobs JOBFILE [--batch-size 4] [--gpu 0]

The weights are loaded with ``load_parameters`` from the local ``deeplab_resnet101_coco-*.params``;
``get_model(..., pretrained=True)`` is avoided because it downloads when a hash does not match.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from core.errors import MissingWeightsError, UserError
from data_prep.masks import GLUONCV_MODEL_NAME, check_mask_weights
from data_prep.masks.pseudo import MaskJob, batches, finish_job, load_normalised, read_jobs


def load_model(params: Path, context):  # -> gluoncv DeepLabV3
    from gluoncv.model_zoo import get_model

    net = get_model(GLUONCV_MODEL_NAME, pretrained=False, pretrained_base=False, ctx=context)
    net.load_parameters(str(params), ctx=context)
    return net


def predict_labels(net, batch: np.ndarray, context) -> np.ndarray:
    """(N, 3, H, W) normalised float32 -> (N, H, W) int label maps (21 VOC classes)."""
    import mxnet as mx

    x = mx.nd.array(batch, ctx=context)
    scores = net.predict(x) if hasattr(net, "predict") else net(x)[0]
    return scores.argmax(axis=1).asnumpy().astype(np.int64)


def run_jobs(jobs: list[MaskJob], params: Path, batch_size: int = 4, gpu: int | None = None) -> None:
    import mxnet as mx

    context = mx.gpu(gpu) if gpu is not None else mx.cpu()
    net = load_model(params, context)
    done = 0
    for batch in batches(jobs, batch_size):
        labels = predict_labels(net, load_normalised(batch), context)
        for job, label_map in zip(batch, labels, strict=True):
            finish_job(job, label_map)
        done += len(batch)
        print(f"\rgluoncv deeplabv3 masks: {done}/{len(jobs)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deeplab_gluoncv", description=__doc__.split("\n")[0])
    parser.add_argument("--weights", required=True, type=Path,
                        help="folder (or file) with deeplab_resnet101_coco-*.params")
    parser.add_argument("--jobs", required=True, type=Path, help="JSON-lines job file written by bench prep")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--gpu", type=int, default=None, help="GPU index (default: CPU)")
    args = parser.parse_args(argv)
    try:
        params = check_mask_weights("deeplabv3-gluoncv", args.weights)
        run_jobs(read_jobs(args.jobs), params, args.batch_size, args.gpu)
    except (MissingWeightsError, UserError) as err:
        print(f"deeplab_gluoncv: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
