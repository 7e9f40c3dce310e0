"""Typed errors of the library.

The library raises these; only the edges (CLI, shell) turn them into text and exit codes, so a
notebook user gets an exception they can catch and a CLI user gets one clear line.
"""

from __future__ import annotations


class VpnsqlError(Exception):
    """Base of every error vpnsql reports to a user; `hint` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(VpnsqlError):
    """The command line itself is wrong (exit 2)."""

    exit_code = 2


class ConfigurationError(UsageError):
    """The environment or a configuration file says something vpnsql cannot use (exit 2): an
    endpoint URL that is not one, a number that is not a number; the message names where."""


class MissingExtra(UsageError):
    """A feature needs an optional dependency (a pyproject extra) that is not installed."""


class InputError(UsageError):
    """The input is not text vpnsql reads as SQL: bytes that are not UTF-8, or a NUL (exit 2,
    whichever way it came: -e, -f, stdin, the shell, Python)."""


class SqlSyntaxError(VpnsqlError):
    """The statement does not parse; the message carries line and column, and so do `line`
    and `column` (1-based, within the statement) when known."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.line = line
        self.column = column


class UnknownTableError(VpnsqlError):
    """A `provider.service.resource` name that no provider declares."""


class ParamError(VpnsqlError):
    """A required param is missing, or a param's literal is not a valid value."""


class UnsupportedStatementError(VpnsqlError):
    """A statement vpnsql cannot run as asked (e.g. writing into a virtual table)."""


class ProviderError(VpnsqlError):
    """An API call failed; keeps the cloud's own error code and where the call went (the
    table, when the failure is about what the answer held)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        account: str | None = None,
        region: str | None = None,
        target: str | None = None,
        hint: str | None = None,
        table: str | None = None,
    ) -> None:
        where = ", ".join(p for p in (table or provider, account, region, target) if p)
        prefix = f"{code}: " if code else ""
        super().__init__(f"{prefix}{message} ({where})", hint=hint)
        self.provider = provider
        self.code = code
        self.account = account
        self.region = region
        self.target = target
        self.table = table


class CallTimeout(ProviderError):
    """An API call got no answer in time on any of its attempts (see
    Settings.attempt_timeout); the message names the call: its operation and where it went."""

    def __init__(self, operation: str, url: str, **where: str | None) -> None:
        super().__init__(
            f"{operation} got no answer in time from {url}, on every attempt",
            code="Timeout",
            hint="give calls longer with --timeout SECONDS, or check the network",
            **where,  # type: ignore[arg-type]
        )


class NotConfigured(ProviderError):
    """A cloud lacks what a call needs (credentials, a default region). In a cross-cloud view
    a cloud the statement did not name is then skipped with a notice saying `reason`."""

    def __init__(self, message: str, *, reason: str, **where: str | None) -> None:
        super().__init__(message, **where)  # type: ignore[arg-type]
        self.reason = reason


class CredentialsError(NotConfigured):
    """No usable credentials for a provider; the hint says how to configure them."""

    def __init__(
        self, message: str, *, reason: str = "no credentials configured", **where: str | None
    ) -> None:
        super().__init__(message, reason=reason, **where)


class QueryError(VpnsqlError):
    """DuckDB rejected or failed the user's SQL after the virtual tables were loaded."""


class ConfirmationRequired(VpnsqlError):
    """A statement would end several sessions and nobody confirmed it (--yes, or the shell)."""


class Cancelled(VpnsqlError):
    """The user answered no: nothing was done."""


class SandboxError(VpnsqlError):
    """The sandbox could not start (its port is in use, ...)."""
