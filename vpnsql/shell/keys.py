"""Key bindings on top of prompt-toolkit's emacs/vi sets: when Enter runs the input.

The prompt is multi-line, so Enter inserts a newline until the input is complete (a statement
ending with `;`, or a `.` meta command); Alt-Enter (Esc Enter) runs it regardless.
"""

from __future__ import annotations

from prompt_toolkit.application import get_app
from prompt_toolkit.filters import Condition, completion_is_selected, is_searching
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from vpnsql.shell.lexing import is_complete


@Condition
def _input_complete() -> bool:
    return is_complete(get_app().current_buffer.text)


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
