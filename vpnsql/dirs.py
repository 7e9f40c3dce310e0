"""Where vpnsql keeps files of its own: the XDG base directories, under `vpnsql/`."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, default: str) -> Path:
    """$variable/vpnsql; a relative value is ignored, as the XDG spec says."""
    value = os.environ.get(variable, "")
    base = Path(value) if os.path.isabs(value) else Path.home() / default
    return base / "vpnsql"


def data_dir() -> Path:
    """$XDG_DATA_HOME/vpnsql (~/.local/share/vpnsql): what the user made, like shell history."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/vpnsql (~/.cache/vpnsql): what vpnsql can always make again."""
    return _xdg("XDG_CACHE_HOME", ".cache")
