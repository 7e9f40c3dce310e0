"""Text from outside on its way to a terminal: control characters as visible escapes.

Values come from clouds and users (a certificate's common name, a region typed into WHERE, an
API's error message), and some of them end up in results, errors and notices. Escaped, no such
text can steer the operator's terminal (clear it, retitle it, hide what follows); a table's
cells, an error's message and a notice all go through the one function below.
"""

from __future__ import annotations

import logging

_CONTROLS = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROLS.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def visible(text: str, newlines: bool = False) -> str:
    """`text` with control characters as visible escapes (`\\x1b`, `\\n`); with `newlines`,
    line breaks stay line breaks (a message of several lines, a Markdown cell)."""
    if not newlines:
        return text.translate(_CONTROLS)
    return "\n".join(line.translate(_CONTROLS) for line in text.split("\n"))


class VisibleFormatter(logging.Formatter):
    """A logging formatter whose lines (notices) are `visible`."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record), newlines=True)
