"""IIC-seg's label map for the § oracle: the overclustering head's argmax (the paper's 15-way output)."""

from __future__ import annotations

import torch

from baselines import iic_seg
from core.contract import SEGMENT_LABELS, TrainRequest


def test_segment_labels_are_the_overclustering_heads_argmax(tiny_prepared, tmp_path) -> None:
    torch.set_num_threads(1)
    method = iic_seg.load(iic_seg.train(TrainRequest(data=tiny_prepared, out=tmp_path, preset="smoke", seed=0)))
    images = torch.rand(3, 3, 36, 36, generator=torch.Generator().manual_seed(0))
    labels = method.segment_labels(images)
    over = method.class_probabilities(images, head="over")
    assert method.can(SEGMENT_LABELS) and labels.shape == (3, 36, 36) and labels.dtype == torch.int64
    assert over.shape[1] == iic_seg.PRESETS["smoke"].overcluster_classes
    assert torch.equal(labels, over.argmax(dim=1))
    assert not torch.equal(method.class_probabilities(images), over[:, :2])   # not the main head
