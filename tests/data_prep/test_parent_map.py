"""The one child->parent map p(c) (``data_prep.prepared.parent_of``) on every kind of input the suite
passes it, against a map built by hand: NC/NP consecutive children per parent, the last parent
taking any remainder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data_prep.prepared import parent_of


def _by_hand(num_classes: int, num_parents: int) -> list[int]:
    per_parent = max(num_classes // num_parents, 1)
    blocks = [p for p in range(num_parents) for _ in range(per_parent)][:num_classes]
    return blocks + [num_parents - 1] * (num_classes - len(blocks))


@pytest.mark.parametrize(("num_classes", "num_parents"), [(200, 20), (120, 12), (196, 14), (7, 2), (3, 5), (6, 1)])
def test_ints_arrays_and_tensors_give_the_same_map(num_classes, num_parents):
    expected = _by_hand(num_classes, num_parents)
    assert [parent_of(c, num_classes, num_parents) for c in range(num_classes)] == expected
    assert all(type(parent_of(c, num_classes, num_parents)) is int for c in (0, np.int64(num_classes - 1)))
    array = parent_of(np.arange(num_classes).reshape(1, -1), num_classes, num_parents)
    assert isinstance(array, np.ndarray) and array.shape == (1, num_classes) and array[0].tolist() == expected
    for dtype in (torch.long, torch.int32):
        tensor = parent_of(torch.arange(num_classes, dtype=dtype), num_classes, num_parents)
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == dtype and tensor.tolist() == expected


def test_known_answers():
    assert parent_of(195, 196, 14) == 13 and parent_of(199, 200, 20) == 19 and parent_of(10, 200, 20) == 1
    assert parent_of(6, 7, 2) == 1  # 7 children, 2 parents: 3 per parent, the last takes the 7th child
