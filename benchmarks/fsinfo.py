"""Where a benchmark's database lives: the filesystem under a path, and whether it is tmpfs (no
fsync cost at all, so its figures say nothing of a real disk). Shared by the store and site
benchmarks; Linux only (/proc/mounts), "unknown" elsewhere."""

from __future__ import annotations

import os
from pathlib import Path


def filesystem_of(path: str | Path) -> tuple[str, str]:
    """(filesystem type, mount point) of the mount that holds `path`."""
    target = os.path.realpath(path)
    best = ("unknown", "")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return best
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[1]):
            best = (fields[2], point)
    return best


def describe(path: str | Path) -> str:
    kind, point = filesystem_of(path)
    tmpfs = "ON TMPFS: no fsync cost, not a real disk" if kind == "tmpfs" else "not tmpfs"
    return f"{path}: filesystem {kind} (mounted at {point or '?'}), {tmpfs}"
