"""The one small seam every database writer implements."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Writer"]


class Writer(Protocol):
    """Writes line protocol bodies to a database.

    ``write`` returns once the server has accepted the whole body, or raises ``WriteFailed``
    (``retryable`` says whether the same body may succeed later; ``lines`` names bad lines).
    Several ``write`` calls may be in flight at once. Each writer is an async context manager;
    ``aclose`` releases its connections.
    """

    async def write(self, body: bytes) -> None:
        """Write one body of newline-separated lines (nanosecond timestamps)."""
        ...

    async def ping(self) -> bool:
        """Whether the server answers right now (never raises)."""
        ...

    async def aclose(self) -> None:
        """Close connections; further writes fail."""
        ...
