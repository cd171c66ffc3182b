"""A short human-readable summary of a prepared directory (what ``bench prep`` prints at the end)."""

from __future__ import annotations

from data_prep.prepared import Prepared


def summarize(prepared: Prepared) -> str:
    manifest = prepared.manifest
    roles = manifest["role"].value_counts().to_dict()
    with_mask = int((manifest["mask"] != "").sum())
    sources = sorted(s for s in manifest["mask_source"].unique() if s)
    counts = prepared.meta.get("counts", {})
    lines = [
        f"prepared {prepared.name} at {prepared.root}",
        f"  classes: {prepared.num_classes} children, {prepared.num_parents} parents; size {prepared.size}px; "
        f"seed {prepared.meta.get('seed')}; fingerprint {prepared.fingerprint}",
        f"  images: {len(manifest)} (fg/X_c {roles.get('fg', 0)}, bg {roles.get('bg', 0)}); "
        f"background patches/X_bg: {len(prepared.backgrounds)}",
        f"  masks: {with_mask} ({', '.join(sources) or 'none'})",
    ]
    if counts.get("skipped"):
        lines.append(f"  skipped unreadable images: {counts['skipped']} (listed in meta.json)")
    return "\n".join(lines)
