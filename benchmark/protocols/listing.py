"""``bench protocols``: list the evaluation protocols with their conventions and where they were read.

    bench protocols [--verbose]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark import protocols
from core.cli_options import cli


@dataclass(frozen=True)
class ProtocolsOptions:
    """What ``bench protocols`` (and ``list_protocols``) takes."""

    verbose: bool = field(default=False, metadata=cli("also print every convention of each protocol"))


def list_protocols(verbose: bool = ProtocolsOptions.verbose) -> str:
    """The API behind ``bench protocols`` (the options of ``ProtocolsOptions``): print (and return) each
    protocol's tag, title, paper, repository, the files read and its tasks (``verbose``: every convention)."""
    lines = []
    for name in protocols.names():
        p = protocols.get(name)
        lines += [f"{p.tag}  {p.title}",
                  f"    paper:      {p.source.paper}",
                  f"    repository: {p.source.repository}",
                  f"    files:      {', '.join(p.source.files)}",
                  f"    tasks:      {', '.join(p.tasks)}"]
        if verbose:
            lines += [f"    {key}: {value}" for key, value in p.describe().items()
                      if key not in ("protocol", "title", "source", "tasks")]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    return text
