"""What a store has done, as numbers a gateway can show or export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["IngestStats"]


@dataclass(frozen=True, slots=True)
class IngestStats:
    """A snapshot of ``DurableStore``'s counters (monotonic totals, except where noted).

    ``write_seconds_total / batches_written`` is the mean write latency; ``failures`` counts
    failed database writes by ``WriteFailed.kind``; ``in_flight``, ``spool_*`` and ``healthy``
    are current values.
    """

    points_written: int
    batches_written: int
    points_spooled: int
    batches_spooled: int
    points_replayed: int
    batches_replayed: int
    points_rejected: int
    points_refused: int
    write_seconds_total: float
    write_seconds_last: float
    write_seconds_max: float
    in_flight: int
    spool_bytes: int
    spool_batches: int
    spool_points: int
    healthy: bool
    failures: Mapping[str, int] = field(default_factory=dict)
