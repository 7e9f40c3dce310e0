"""For providers to say where their credentials would come from, without reading any secret.

The shell's banner shows this per provider: it must stay instant (no SDK import, no network
call such as an instance-metadata probe) and never print a value, only where it lives.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def first_file_mentioning(paths: Iterable[str], markers: Iterable[str]) -> str | None:
    """The first file that exists and names one of the markers (its values are never kept)."""
    wanted = tuple(markers)
    for path in paths:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if any(marker in text.lower() for marker in wanted):
            return path
    return None
