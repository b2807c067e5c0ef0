"""Error types. Each message says what was wrong, where (file, line, field) and what to do next."""

from __future__ import annotations

from models.keyfile import KeyFileError  # noqa: F401  (raised for the pseudonym key; defined beside its creator)


class TouchpointError(Exception):
    """Base class for errors a user can act on."""


class InputError(TouchpointError):
    """An input file cannot be read at all (missing, unknown format, no matching source)."""


class RecordError(TouchpointError):
    """One input record breaks its channel's contract; it is quarantined, the run continues."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field


class ContractError(TouchpointError):
    """Too many bad rows, or conflicting keys: the run fails and publishes nothing."""


class StoreError(TouchpointError):
    """The store is locked by another run or cannot be written."""


def located(path: str, line: int | None, field: str | None, reason: str) -> str:
    """Format a location-bearing message: ``file:line: field: reason``."""
    where = path if line is None else f"{path}:{line}"
    return f"{where}: {field}: {reason}" if field else f"{where}: {reason}"
