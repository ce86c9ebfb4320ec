"""``DurableStore``: points are durable once written to InfluxDB or appended to the spool.

``store(points)`` returns ``Durability.WRITTEN`` or ``Durability.SPOOLED`` only when one of
them is true, and raises otherwise; a gateway acknowledges the messages behind the points only
after it returns.

How it decides: while the database is *healthy* (the last write worked) a batch goes straight
to it; a retryable failure marks it unhealthy and the batch goes to the spool. While unhealthy,
batches go to the spool directly (no waiting for a timeout per batch), except when the spool is
empty, where the write is tried first (it is then the health probe). A replay task writes the
spool's oldest batch, one at a time, with exponential backoff between failures; its first
success marks the database healthy again.

Ordering: spooled batches reach the database in the order they were spooled. Once healthy,
new batches are written directly and may overtake older spooled ones still being replayed.
That is safe because a point's identity is (measurement, tags, time) and each point carries its
own time: the database ends up with the same content in any arrival order, and a redelivered
point overwrites itself. Fresh data shows at once after an outage, while the backlog drains.

A body the server finds too large (HTTP 413) is split in halves until it fits.
Permanent failures (HTTP 400: the points themselves are bad) are not spooled: ``store`` raises
``WriteFailed(retryable=False)`` naming the bad lines, so the caller can dead-letter those
messages (InfluxDB 1.x has written the good lines of a partial write). A spooled batch the
database rejects for good is moved to ``rejected/`` beside the spool, counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from types import TracebackType
from typing import Protocol

from ingest.config import StoreConfig
from ingest.errors import SpoolError, StoreUnavailable, WriteFailed
from ingest.lineprotocol import encode_lines
from ingest.points import Point
from ingest.spool import Spool, SpoolBatch
from ingest.stats import IngestStats
from ingest.writer import Writer

__all__ = ["Durability", "DurableStore", "PointStore"]

log = logging.getLogger(__name__)


class Durability(StrEnum):
    """Where a stored batch is now."""

    WRITTEN = "written"
    SPOOLED = "spooled"


class PointStore(Protocol):
    """Where points become durable, as the gateway and the alert recorder see it:
    ``DurableStore``, or anything else with these two methods."""

    async def store(self, points: Sequence[Point]) -> Durability:
        """Return once the points are durable (written, or spooled); raise an ``IngestError``
        when they are not."""
        ...

    def stats(self) -> IngestStats:
        """What the store has done and holds right now."""
        ...


class DurableStore:
    """Writes batches to ``writer``, spools them when it cannot, replays the spool in order.

    An async context manager: enter opens the spool and starts the replay task (in its own
    ``TaskGroup``); exit stops it. It does not own ``writer``: close that yourself.
    """

    def __init__(self, writer: Writer, spool: Spool, config: StoreConfig) -> None:
        self.writer = writer
        self.spool = spool
        self.config = config
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._healthy = True
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._stack: contextlib.AsyncExitStack | None = None
        self._replay_task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._counts: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._write_seconds_total = 0.0
        self._write_seconds_last = 0.0
        self._write_seconds_max = 0.0

    # -- life cycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> DurableStore:
        if self._stack is not None:
            raise RuntimeError("a DurableStore can be entered once")
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(self.spool)
        try:
            group = await stack.enter_async_context(asyncio.TaskGroup())
            stack.callback(self._stop_replay)
            self._replay_task = group.create_task(self._replay(), name="ingest-replay")
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        if self.spool.is_empty():
            self._drained.set()
        else:
            self._wake.set()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            # The body's own exception is not the replay task's business: give the TaskGroup
            # none, so the caller gets its exception back as is, not wrapped in a group.
            await stack.aclose()

    def _stop_replay(self) -> None:
        if self._replay_task is not None:
            self._replay_task.cancel()

    # -- storing ----------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        """Whether the last write to the database worked."""
        return self._healthy

    async def wait_drained(self) -> None:
        """Return once the spool is empty (at once if it is); for shutdown and tests."""
        while not self.spool.is_empty():
            self._drained.clear()
            if self.spool.is_empty():
                break
            await self._drained.wait()

    async def store(self, points: Sequence[Point]) -> Durability:
        """Make ``points`` durable: written to the database, or else appended to the spool.

        Raises ``WriteFailed(retryable=False)`` when the database rejects them for good (bad
        points, ``lines`` names them) and ``StoreUnavailable`` when neither the database nor the
        spool takes them (the caller must not acknowledge them).
        """
        if not points:
            return Durability.WRITTEN
        body = encode_lines(points)
        return await self.store_lines(body, len(points))

    async def store_lines(self, body: bytes, points: int) -> Durability:
        """``store`` for a body already encoded by ``encode_lines`` holding ``points`` lines."""
        failure: WriteFailed | None = None
        if self._healthy or self.spool.is_empty():
            try:
                await self._write(body, points)
            except WriteFailed as exc:
                if not exc.retryable:
                    self._counts["points_rejected"] += points
                    raise
                failure = exc
                self._mark_unhealthy(exc)
            else:
                self._counts["points_written"] += points
                self._counts["batches_written"] += 1
                return Durability.WRITTEN
        try:
            await self.spool.append(body, points)
        except SpoolError as exc:
            self._counts["points_refused"] += points
            database = f"database: {failure.reason}; " if failure else "database unhealthy; "
            raise StoreUnavailable(database + f"spool: {exc.reason}") from exc
        self._counts["points_spooled"] += points
        self._counts["batches_spooled"] += 1
        self._drained.clear()
        self._wake.set()
        return Durability.SPOOLED

    async def _write(self, body: bytes, points: int) -> None:
        """Write a body; one the server finds too large (413) is split in halves and retried."""
        try:
            await self._write_once(body)
        except WriteFailed as exc:
            lines = body.splitlines(keepends=True)
            if exc.kind != "too_large" or len(lines) < 2:
                raise
            half = len(lines) // 2
            log.info("write_split", extra={"points": points, "bytes": len(body)})
            await self._write(b"".join(lines[:half]), half)
            await self._write(b"".join(lines[half:]), len(lines) - half)

    async def _write_once(self, body: bytes) -> None:
        async with self._slots:
            self._in_flight += 1
            started = time.perf_counter()
            try:
                await self.writer.write(body)
            except WriteFailed as exc:
                self._failures[exc.kind] += 1
                raise
            finally:
                self._in_flight -= 1
            elapsed = time.perf_counter() - started
            self._write_seconds_total += elapsed
            self._write_seconds_last = elapsed
            self._write_seconds_max = max(self._write_seconds_max, elapsed)

    def _mark_unhealthy(self, exc: WriteFailed) -> None:
        if self._healthy:
            log.warning(
                "influx_unavailable",
                extra={"kind": exc.kind, "status": exc.status, "reason": exc.reason[:200]},
            )
        self._healthy = False
        self._wake.set()

    # -- replay -----------------------------------------------------------------------------------
    async def _replay(self) -> None:
        delay_s = self.config.retry_initial_s
        while True:
            await self._wake.wait()
            batch = await self.spool.peek()
            if batch is None:
                self._wake.clear()
                if self.spool.is_empty():
                    continue
                self._wake.set()
                continue
            try:
                await self._write(batch.body, batch.points)
            except WriteFailed as exc:
                if exc.retryable:
                    self._mark_unhealthy(exc)
                    log.info(
                        "spool_replay_retry",
                        extra={"kind": exc.kind, "delay_s": delay_s, "batches": self.spool.batches},
                    )
                    await asyncio.sleep(delay_s)
                    delay_s = min(delay_s * 2, self.config.retry_max_s)
                    continue
                await self._park_rejected(batch, exc)
            else:
                self._counts["points_replayed"] += batch.points
                self._counts["batches_replayed"] += 1
                if not self._healthy:
                    log.info("influx_available", extra={"spool_batches": self.spool.batches})
                self._healthy = True
            delay_s = self.config.retry_initial_s
            await self.spool.commit(batch)
            if self.spool.is_empty():
                self._drained.set()

    async def _park_rejected(self, batch: SpoolBatch, exc: WriteFailed) -> None:
        """Keep a batch the database refuses for good beside the spool, and say so loudly."""
        folder = self.spool.config.directory / "rejected"
        name = f"{batch.segment:016d}-{batch.offset:012d}.lp"

        def keep() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(batch.body)

        await asyncio.to_thread(keep)
        self._counts["points_rejected"] += batch.points
        log.error(
            "spool_batch_rejected",
            extra={
                "file": str(folder / name),
                "points": batch.points,
                "status": exc.status,
                "lines": list(exc.lines[:20]),
                "reason": exc.reason[:200],
            },
        )

    # -- numbers ----------------------------------------------------------------------------------
    def stats(self) -> IngestStats:
        """A snapshot of what this store has done and holds."""
        counts = self._counts
        return IngestStats(
            points_written=counts["points_written"],
            batches_written=counts["batches_written"],
            points_spooled=counts["points_spooled"],
            batches_spooled=counts["batches_spooled"],
            points_replayed=counts["points_replayed"],
            batches_replayed=counts["batches_replayed"],
            points_rejected=counts["points_rejected"],
            points_refused=counts["points_refused"],
            write_seconds_total=self._write_seconds_total,
            write_seconds_last=self._write_seconds_last,
            write_seconds_max=self._write_seconds_max,
            in_flight=self._in_flight,
            spool_bytes=self.spool.size_bytes,
            spool_batches=self.spool.batches,
            spool_points=self.spool.points,
            healthy=self._healthy,
            failures=dict(self._failures),
        )
