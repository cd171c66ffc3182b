"""The methods the benchmark knows, by name, and how to obtain a trained one.

Each entry points at a module that follows the method-module contract (``train(request) -> Path``,
``load(checkpoint, device) -> Method``); a module hosting several methods exposes them in a
``METHODS`` dict of ``name -> (train, load)``. To add a method: write the module (see
``baselines/base.py``) and add one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.base import Method, TrainRequest
from data_prep.errors import UserError


@dataclass(frozen=True)
class MethodEntry:
    name: str
    module: str
    title: str            # the row label in the tables
    tasks: tuple[str, ...]


METHODS: dict[str, MethodEntry] = {e.name: e for e in (
    MethodEntry("onegan", "onegan.api", "OneGAN", ("generation", "segmentation", "clustering")),
    MethodEntry("finegan", "baselines.finegan", "FineGAN∗", ("generation", "segmentation", "clustering")),
    MethodEntry("stackgan", "baselines.stackgan", "StackGANv2∗", ("generation", "clustering")),
    MethodEntry("iic", "baselines.iic", "IIC-cluster", ("clustering",)),
    MethodEntry("iic-seg", "baselines.iic", "IIC-seg", ("segmentation",)),
    MethodEntry("redo", "baselines.redo", "ReDO", ("segmentation",)),
    MethodEntry("kmeans-colour", "baselines.classical", "k-means (colours)", ("clustering",)),
    MethodEntry("centred-box", "baselines.classical", "centred box", ("segmentation",)),
)}
DEFAULT_METHODS = tuple(METHODS)


def parse_methods(text: str | None) -> list[str]:
    """``"onegan,finegan"`` → names; ``external:...`` specs pass through; unknown names are an error."""
    if not text:
        return list(DEFAULT_METHODS)
    names = [t.strip() for t in text.split(",") if t.strip()] if not text.startswith("external:") else [text]
    for name in names:
        if name not in METHODS and not name.startswith("external:"):
            raise UserError(f"unknown method {name!r}; known: {', '.join(METHODS)} (or external:...)")
    return names


def title_of(name: str, variant: str | None = None) -> str:
    base = METHODS[name].title if name in METHODS else name
    return f"{base} / {variant}" if variant else base


def _functions(entry: MethodEntry) -> tuple[Any, Any]:
    module = importlib.import_module(entry.module)
    registry = getattr(module, "METHODS", None)
    if isinstance(registry, dict) and entry.name in registry:
        return registry[entry.name]
    return module.train, module.load


def obtain_method(name: str, request: TrainRequest, checkpoint: Path | None = None) -> tuple[Method, str | None]:
    """Train (or resume) ``name`` into ``request.out`` unless a checkpoint is given, then load it.

    Returns the method and the checkpoint path it came from (None for file-backed external methods).
    """
    if name.startswith("external:"):
        from baselines.external import from_spec

        return from_spec(name[len("external:"):]), None
    entry = METHODS[name]
    train, load = _functions(entry)
    if checkpoint is None:
        checkpoint = Path(train(request))
    elif not Path(checkpoint).exists():
        raise UserError(f"checkpoint for {name} not found: {checkpoint}")
    return load(Path(checkpoint), device=request.device), str(checkpoint)
