"""Optional dependencies (pyproject's extras): a feature whose extra is not installed says
what to install, instead of an import error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vpnsql.errors import MissingExtra


@contextmanager
def needs_extra(extra: str, feature: str) -> Iterator[None]:
    """Around the imports of `feature`: a missing module of the extra is a MissingExtra that
    says `pip install 'vpnsql[extra]'` (exit 2). vpnsql's own modules are never "missing"."""
    try:
        yield
    except ModuleNotFoundError as err:
        package = (err.name or "").split(".")[0]
        if not package or package == "vpnsql":
            raise
        raise MissingExtra(
            f"{feature} needs {package}, which is not installed",
            hint=f"pip install 'vpnsql[{extra}]'",
        ) from None
