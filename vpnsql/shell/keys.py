"""Key bindings on top of prompt-toolkit's emacs/vi sets: when Enter runs the input.

The prompt is multi-line, so Enter inserts a newline until the input is complete (a statement
ending with `;`, a `.` meta command, or one of the words other SQL shells take: `exit`, `quit`,
`\\q`, `help`); Alt-Enter (Esc Enter) runs it regardless.
"""

from __future__ import annotations

from prompt_toolkit.application import get_app
from prompt_toolkit.filters import Condition, completion_is_selected, is_searching
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from vpnsql.lexing import is_complete

WORDS = {"exit": ".quit", "quit": ".quit", "\\q": ".quit", "help": ".help"}
"""What sqlite, duckdb, litecli and pgcli users type, as the meta command it means."""


def is_word(text: str) -> bool:
    return text.strip().rstrip(";").strip().lower() in WORDS


@Condition
def _input_complete() -> bool:
    text = get_app().current_buffer.text
    return is_complete(text) or is_word(text)


def key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter", filter=completion_is_selected & ~is_searching)
    def _take_completion(event: KeyPressEvent) -> None:
        """Enter on a highlighted completion keeps it, as in a menu, instead of a newline."""
        event.current_buffer.complete_state = None

    @bindings.add("enter", filter=_input_complete & ~completion_is_selected & ~is_searching)
    def _run(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    return bindings
