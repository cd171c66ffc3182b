"""Named evaluation protocols: score a method the way the paper you compare with scored its own.

    from benchmark import protocols
    protocols.names()                        # ['onegan2020', 'c3gan2022', 'drc2021']
    p = protocols.get("c3gan2022")
    p.score_clusters(labels, clusters)       # {"acc": ..., "nmi": ...}
    protocols.get("drc2021").score_masks(pred_masks, gt_masks)   # {"iou": ..., "dice": ...}

Each protocol is a versioned bundle (``base.Protocol``); records store its ``tag`` (``name@vN``) and
tables never put two protocols in one column. ``bench protocols`` lists them with their sources.
"""

from __future__ import annotations

from benchmark.protocols import c3gan2022, drc2021, onegan2020
from benchmark.protocols.base import Protocol, ProtocolError, Source
from core.errors import UserError

DEFAULT = "onegan2020"
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (onegan2020.PROTOCOL, c3gan2022.PROTOCOL, drc2021.PROTOCOL)}
# Records written before protocols existed were scored under OneGAN's conventions.
LEGACY_TAG = PROTOCOLS[DEFAULT].tag


def names() -> list[str]:
    return list(PROTOCOLS)


def get(name: str) -> Protocol:
    """The protocol called ``name`` (or its tag ``name@vN``)."""
    key = name.split("@", 1)[0]
    if key not in PROTOCOLS:
        raise UserError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    protocol = PROTOCOLS[key]
    if "@" in name and name != protocol.tag:
        raise UserError(f"protocol {name!r} is not the current version ({protocol.tag})")
    return protocol


def tag_of(record: dict) -> str:
    """The protocol tag of a result record (records older than protocols: OneGAN's)."""
    return record.get("protocol") or LEGACY_TAG


__all__ = ["DEFAULT", "LEGACY_TAG", "PROTOCOLS", "Protocol", "ProtocolError", "Source", "get", "names", "tag_of"]
