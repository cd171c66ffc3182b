"""Dataset readers: one module per dataset, each with ``NAME``, ``VOC_CLASS`` (the dataset's
label in the 21-class VOC head used for DeepLabV3 pseudo-masks) and ``read(root) -> DatasetSource``."""

from __future__ import annotations

from types import ModuleType

from data_prep.readers import cars, cub, dogs

READERS: dict[str, ModuleType] = {module.NAME: module for module in (cub, dogs, cars)}


def get_reader(name: str) -> ModuleType:
    try:
        return READERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(READERS)}") from None
