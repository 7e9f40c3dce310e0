"""Listening sockets for the sandbox's servers, with a clear error for a port in use."""

from __future__ import annotations

import errno
import socket

from vpnsql.errors import SandboxError


def listen(host: str, port: int, what: str) -> socket.socket:
    """A listening socket on host:port (0: a free port), or a SandboxError saying which
    server's port is taken (werkzeug would print its own text and exit the process)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as err:
        reason = "the port is in use" if err.errno == errno.EADDRINUSE else err.strerror
        raise SandboxError(
            f"cannot serve the {what} sandbox on {host}:{port}: {reason}",
            hint="stop what uses it, or pick another port (0 takes a free one)",
        ) from None
