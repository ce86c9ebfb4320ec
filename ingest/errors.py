"""Errors of the ingest room.

IngestError
├── WriteFailed(kind, retryable, status, reason, lines)   a database write did not succeed
├── SpoolError(path, reason)
│   ├── SpoolFull(path, used_bytes, max_bytes)          the spool refuses: it is at its bound
│   ├── SpoolWriteFailed(path, reason, errno)           the disk refused (ENOSPC, EFBIG, EIO)
│   └── SpoolCorrupt(path, offset, reason)              a record inside a segment is damaged
├── StoreUnavailable(reason)                            neither the database nor the spool took it
└── BootstrapFailed(statement, reason)                  the database could not be prepared
"""

from __future__ import annotations

__all__ = [
    "BootstrapFailed",
    "IngestError",
    "SpoolCorrupt",
    "SpoolError",
    "SpoolFull",
    "SpoolWriteFailed",
    "StoreUnavailable",
    "WriteFailed",
]


class IngestError(Exception):
    """Base of every error raised by ``ingest``."""


class WriteFailed(IngestError):
    """A write to the database did not succeed.

    ``kind`` is a short stable word for counters: ``connect``, ``timeout``, ``server_error``,
    ``throttled``, ``refused`` (401/403/404: configuration; the data is fine), ``rejected``
    (400: the points themselves are bad), ``too_large`` (413). ``retryable`` says whether the
    same body may succeed later; only ``rejected`` and ``too_large`` are permanent. ``lines``
    holds the 1-based line numbers of the body the server named as bad, when it named any
    (line *n* is the *n*-th point given to ``encode_lines``).
    """

    def __init__(
        self,
        kind: str,
        *,
        retryable: bool,
        status: int | None,
        reason: str,
        lines: tuple[int, ...] = (),
    ) -> None:
        where = f"HTTP {status}" if status is not None else kind
        super().__init__(
            f"write failed ({where}, {'retryable' if retryable else 'permanent'}): {reason}"
        )
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.reason = reason
        self.lines = lines


class SpoolError(IngestError):
    """Base of the spool's errors; ``path`` is the spool folder or segment concerned."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"spool {path}: {reason}")
        self.path = path
        self.reason = reason


class SpoolFull(SpoolError):
    """The spool is at its byte bound and refuses the append (back-pressure, not loss)."""

    def __init__(self, path: str, used_bytes: int, max_bytes: int, record_bytes: int) -> None:
        super().__init__(
            path,
            f"full: {used_bytes} of {max_bytes} bytes used, a {record_bytes} byte batch does "
            "not fit",
        )
        self.used_bytes = used_bytes
        self.max_bytes = max_bytes
        self.record_bytes = record_bytes


class SpoolWriteFailed(SpoolError):
    """The disk refused an append (disk full, file too large, I/O error); nothing was kept."""

    def __init__(self, path: str, reason: str, errno: int | None) -> None:
        super().__init__(path, reason)
        self.errno = errno


class SpoolCorrupt(SpoolError):
    """A record inside a segment (not a torn last one) fails its length or checksum."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(path, f"corrupt record at byte {offset}: {reason}")
        self.offset = offset


class StoreUnavailable(IngestError):
    """Neither the database nor the spool accepted the points: they are NOT durable."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"points not stored: {reason}")
        self.reason = reason


class BootstrapFailed(IngestError):
    """A statement preparing the database failed; names the statement and the server's answer."""

    def __init__(self, statement: str, reason: str) -> None:
        super().__init__(f"bootstrap statement {statement!r} failed: {reason}")
        self.statement = statement
        self.reason = reason
