"""Which manifest rows a protocol scores for a task.

``with-objects``: clustering scores every image showing an object, segmentation every image with a
ground-truth mask (on the real datasets both are all images; on the synthetic world the fg role).
``official-test``: the same, restricted to the prepared directory's official test list
(``data_prep.test_lists``).
"""

from __future__ import annotations

import numpy as np

from benchmark.protocols.base import Protocol
from data_prep.prepared import Prepared
from data_prep.test_lists import read_test_list


def protocol_rows(prepared: Prepared, protocol: Protocol, task: str) -> np.ndarray:
    # Imported here: benchmark.tasks imports this module.
    from benchmark.tasks.common import rows_with_masks, rows_with_objects

    rows = rows_with_masks(prepared) if task == "segmentation" else rows_with_objects(prepared)
    if protocol.images == "official-test":
        test_ids = read_test_list(prepared.root, prepared.manifest, prepared.name)
        in_test = prepared.manifest["image_id"].isin(test_ids).to_numpy()
        rows = rows[in_test[rows]]
    return rows
