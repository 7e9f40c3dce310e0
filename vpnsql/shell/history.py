"""The shell's history file: what was run at the prompt, and nothing else.

It lives in the XDG data directory ($XDG_DATA_HOME/vpnsql/history, by default
~/.local/share/vpnsql/history), readable by its owner only, since statements name endpoints and
users. Answers to questions (the y/N of a terminate) are asked through another prompt and never
reach it.
"""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.history import FileHistory

from vpnsql.dirs import data_dir


def history_path() -> Path:
    return data_dir() / "history"


class StatementHistory(FileHistory):
    """A FileHistory that stores statements and meta commands stripped, and skips blanks."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        super().__init__(path)

    def store_string(self, string: str) -> None:
        if string.strip():
            super().store_string(string.strip())
