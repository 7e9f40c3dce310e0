"""The interactive shell: `vpnsql` with nothing to run, on a terminal.

A prompt-toolkit prompt with SQL highlighting and completion that knows each virtual table's
required params, meta commands (`.help`), results fitted to the terminal, and a session cache
so refining a query does not call the API again. See docs/shell.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vpnsql.registry import Registry
    from vpnsql.tables import Settings

EDITING_MODE_VARIABLE = "VPNSQL_EDITING_MODE"


def run(args: argparse.Namespace, registry: Registry, settings: Settings) -> int:
    """Greet, then read and run statements until `.quit` or Ctrl-D; the exit status.

    prompt-toolkit loads here, not with the package: a script's meta commands
    (`vpnsql.shell.meta`) run without it.
    """
    from vpnsql.errors import ConfigurationError
    from vpnsql.shell.app import MODES, Shell
    from vpnsql.shell.banner import banner
    from vpnsql.shell.history import StatementHistory, history_path

    editing_mode = os.environ.get(EDITING_MODE_VARIABLE, "emacs").lower()
    if editing_mode not in MODES:
        raise ConfigurationError(
            f"{EDITING_MODE_VARIABLE} must be {' or '.join(MODES)}, not {editing_mode!r}"
        )
    shell = Shell(
        settings,
        registry=registry,
        out=sys.stdout,
        fmt=args.output or "table",
        header=not args.no_header,
        history=StatementHistory(history_path()),
        editing_mode=editing_mode,
        debug=args.debug,
        allow_partial=args.allow_partial,
    )
    sys.stdout.write(banner(shell.session.registry, settings, os.environ, args.sandbox))
    try:
        return shell.loop()
    finally:
        shell.session.close()
