"""Finding products under a folder: SAFE folders and zips, for the registry's scan.

Only candidates are found here (by name, cheaply); whether one is a readable product is decided
by :func:`s2render.core.product.open_product` when it is registered.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

# Files a transfer is still writing (ours: ``.part``; browsers' and curl's habits too).
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".tmp")


def find_products(root: str | Path, *, skip: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Every ``*.SAFE`` folder and ``*.zip`` file under ``root``, in name order.

    A SAFE folder is not searched further (its GRANULE tree holds no products); folders in
    ``skip`` (e.g. the output folder) and hidden folders are not searched at all.
    """
    root = Path(root)
    skipped = {Path(p).resolve() for p in skip}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        keep = []
        for name in sorted(dirs):
            path = here / name
            if name.startswith(".") or path.resolve() in skipped:
                continue
            if name.upper().endswith(".SAFE"):
                yield path
            else:
                keep.append(name)
        dirs[:] = keep
        for name in sorted(files):
            lower = name.lower()
            if lower.endswith(".zip") and not lower.endswith(PARTIAL_SUFFIXES):
                yield here / name
