"""What one ``bench run`` (or ``bench curve``) holds while it scores cells: the preset, the prepared
dataset, the work folder, the record store, the device and the scoring protocol.

It lives in its own module, below ``benchmark.run``, so that the tasks and the figures can name it
without importing the run that drives them (which would close an import circle; tests/test_layering.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark import protocols
from benchmark.presets import RunPreset
from benchmark.records import RecordStore
from data_prep.prepared import Prepared


@dataclass
class RunContext:
    preset: RunPreset
    prepared: Prepared
    work: Path
    store: RecordStore
    device: str
    force: bool
    evaluator: Path | None = None
    inception_weights: Path | None = None
    protocol: protocols.Protocol = protocols.PROTOCOLS[protocols.DEFAULT]
