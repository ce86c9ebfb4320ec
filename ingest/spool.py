"""An append-only, bounded disk spool of line protocol batches, for when InfluxDB is away.

Layout: a folder of segment files ``{number:016d}.spool``, appended to in order, replayed in
order, each deleted once every batch in it has been replayed. A record is::

    magic b"SCS1" | length u32 | points u32 | crc32 u32 | body (length bytes)

with the CRC-32 over the points count and the body. Guarantees:

- **Bounded.** The segments on disk never exceed ``max_bytes``; an append that would is refused
  with ``SpoolFull``. The store then refuses too, the gateway does not acknowledge, and the
  broker keeps the messages: back-pressure, not loss.
- **Durable per policy.** ``fsync="always"``: an append returns after ``fsync`` (and a new
  segment's folder entry is fsynced), so it survives a power cut. ``"never"``: after ``write``,
  so it survives a crash of our process but not of the machine.
- **Crash-safe.** A crash mid-append leaves a torn last record; on open it fails its length or
  checksum, is reported (``spool_torn_record_dropped``) and cut off. A damaged record *followed
  by* valid data is not a torn write: opening raises ``SpoolCorrupt`` naming file and offset.
- **Disk full is loud.** ENOSPC/EFBIG/EIO on append: the partial record is truncated away and
  ``SpoolWriteFailed`` raised; nothing is silently kept half-written.
- **Replayed in order, at least once.** ``peek`` gives the oldest batch, ``commit`` moves past
  it. The replay position is not persisted: after a restart the oldest segment is replayed from
  its start again, which rewrites points with the same identity (no duplicates in InfluxDB).

All file work runs on one worker thread, so appends happen in call order and a cancelled
caller never leaves a record half-appended by a later one.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, TypeVar

from ingest.config import SpoolConfig
from ingest.errors import SpoolCorrupt, SpoolError, SpoolFull, SpoolWriteFailed

__all__ = ["RECORD_HEADER_BYTES", "Spool", "SpoolBatch"]

log = logging.getLogger(__name__)

_MAGIC: Final = b"SCS1"
_HEADER: Final = struct.Struct("<4sIII")
RECORD_HEADER_BYTES: Final = _HEADER.size
_SUFFIX: Final = ".spool"
_MAX_RECORD_BYTES: Final = 1 << 31
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SpoolBatch:
    """One spooled batch: its line protocol body, how many points, and where it lies."""

    body: bytes
    points: int
    segment: int
    offset: int
    size: int


@dataclass(slots=True)
class _Segment:
    number: int
    path: Path
    size: int
    batches: int
    points: int


class Spool:
    """The disk spool; an async context manager (enter opens and checks the segments)."""

    def __init__(self, config: SpoolConfig) -> None:
        if config.segment_max_bytes > config.max_bytes:
            raise ValueError("segment_max_bytes must not exceed max_bytes")
        self.config = config
        self._segments: list[_Segment] = []
        self._fd: int | None = None
        self._read_segment = 0
        self._read_offset = 0
        self._executor: ThreadPoolExecutor | None = None
        self._batches = 0
        self._points = 0
        self._bytes = 0
        self._next_number = 1

    # -- life cycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> Spool:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the folder, check every segment, cut off a torn last record."""
        if self._executor is not None:
            raise SpoolError(str(self.config.directory), "already open")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        await self._run(self._open_sync)

    async def close(self) -> None:
        """Flush and close; the segments stay for the next open."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sync)
        finally:
            executor.shutdown(wait=True)

    # -- what callers see -------------------------------------------------------------------------
    @property
    def batches(self) -> int:
        """Batches waiting to be replayed."""
        return self._batches

    @property
    def points(self) -> int:
        """Points waiting to be replayed."""
        return self._points

    @property
    def size_bytes(self) -> int:
        """Bytes the segments take on disk (what ``max_bytes`` bounds)."""
        return self._bytes

    def is_empty(self) -> bool:
        """Whether nothing waits to be replayed."""
        return self._batches == 0

    async def append(self, body: bytes, points: int) -> None:
        """Append one batch; return once it is written (and fsynced, per policy).

        Raises ``SpoolFull`` when it would exceed ``max_bytes`` and ``SpoolWriteFailed`` when the
        disk refuses; in both cases nothing of the batch is kept.
        """
        await self._run(lambda: self._append_sync(body, points))

    async def peek(self) -> SpoolBatch | None:
        """The oldest batch not yet replayed, or ``None``."""
        return await self._run(self._peek_sync)

    async def commit(self, batch: SpoolBatch) -> None:
        """Mark ``batch`` (the one ``peek`` gave) replayed; delete segments wholly replayed."""
        await self._run(lambda: self._commit_sync(batch))

    async def _run(self, work: Callable[[], _T]) -> _T:
        if self._executor is None:
            raise SpoolError(str(self.config.directory), "not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    # -- the file work, on the spool's one thread -------------------------------------------------
    def _open_sync(self) -> None:
        directory = self.config.directory
        directory.mkdir(parents=True, exist_ok=True)
        numbers = sorted(
            int(path.stem) for path in directory.glob("*" + _SUFFIX) if path.stem.isdigit()
        )
        for index, number in enumerate(numbers):
            path = directory / f"{number:016d}{_SUFFIX}"
            segment = self._scan(number, path, last=index == len(numbers) - 1)
            self._segments.append(segment)
        self._batches = sum(segment.batches for segment in self._segments)
        self._points = sum(segment.points for segment in self._segments)
        self._bytes = sum(segment.size for segment in self._segments)
        self._next_number = numbers[-1] + 1 if numbers else 1
        if self._segments:
            self._fd = self._open_segment_fd(self._segments[-1].path)
        log.info(
            "spool_opened",
            extra={
                "directory": str(directory),
                "batches": self._batches,
                "bytes": self._bytes,
                "segments": len(self._segments),
            },
        )

    def _scan(self, number: int, path: Path, *, last: bool) -> _Segment:
        data = path.read_bytes()
        size = len(data)
        batches = points = 0
        offset = 0
        while offset < size:
            problem = None
            end = size
            if size - offset < RECORD_HEADER_BYTES:
                problem = "header cut short"
            else:
                magic, length, count, crc = _HEADER.unpack_from(data, offset)
                end = offset + RECORD_HEADER_BYTES + length
                if magic != _MAGIC:
                    problem = "bad magic"
                elif end > size:
                    problem = "body cut short"
                elif _crc(data[offset + RECORD_HEADER_BYTES : end], count) != crc:
                    problem = "checksum mismatch"
            if problem is None:
                offset = end
                batches += 1
                points += count
                continue
            # Torn: the damage reaches the end of the last segment, with no record after it.
            torn = last and (end >= size or _MAGIC not in data[offset + 1 :])
            if not torn:
                raise SpoolCorrupt(str(path), offset, problem)
            log.warning(
                "spool_torn_record_dropped",
                extra={"segment": str(path), "offset": offset, "reason": problem},
            )
            with path.open("r+b") as writable:
                writable.truncate(offset)
                os.fsync(writable.fileno())
            size = offset
        return _Segment(number, path, size, batches, points)

    def _open_segment_fd(self, path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def _new_segment(self) -> _Segment:
        number = self._next_number
        self._next_number += 1
        path = self.config.directory / f"{number:016d}{_SUFFIX}"
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._fd = self._open_segment_fd(path)
        if self.config.fsync == "always":
            _fsync_directory(self.config.directory)
        segment = _Segment(number, path, 0, 0, 0)
        self._segments.append(segment)
        return segment

    def _append_sync(self, body: bytes, points: int) -> None:
        if len(body) >= _MAX_RECORD_BYTES:
            raise ValueError("a spool record is at most 2 GiB")
        record_bytes = RECORD_HEADER_BYTES + len(body)
        if self._bytes + record_bytes > self.config.max_bytes:
            raise SpoolFull(
                str(self.config.directory), self._bytes, self.config.max_bytes, record_bytes
            )
        segment = self._segments[-1] if self._segments else None
        if segment is None or segment.size >= self.config.segment_max_bytes or self._fd is None:
            if segment is not None and self._fd is not None and self.config.fsync == "always":
                os.fsync(self._fd)
            segment = self._new_segment()
        assert self._fd is not None
        crc = _crc(body, points)
        record = _HEADER.pack(_MAGIC, len(body), points, crc) + body
        try:
            _write_all(self._fd, record)
            if self.config.fsync == "always":
                os.fsync(self._fd)
        except OSError as exc:
            self._undo_append(segment)
            reason = {
                errno.ENOSPC: "disk full",
                errno.EFBIG: "file too large for this file system or limit",
                errno.EDQUOT: "disk quota exceeded",
            }.get(exc.errno or 0, os.strerror(exc.errno or 0) if exc.errno else str(exc))
            log.error(
                "spool_append_failed",
                extra={"segment": str(segment.path), "errno": exc.errno, "reason": reason},
            )
            raise SpoolWriteFailed(str(segment.path), reason, exc.errno) from exc
        segment.size += len(record)
        segment.batches += 1
        segment.points += points
        self._bytes += len(record)
        self._batches += 1
        self._points += points

    def _undo_append(self, segment: _Segment) -> None:
        """Cut a partly written record off, so the segment ends on a whole record again."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, segment.size)
        except OSError:
            # Cannot even truncate: close, so the next open finds and drops the torn tail.
            os.close(self._fd)
            self._fd = None

    def _peek_sync(self) -> SpoolBatch | None:
        while self._read_segment < len(self._segments):
            segment = self._segments[self._read_segment]
            if self._read_offset < segment.size:
                with segment.path.open("rb") as handle:
                    handle.seek(self._read_offset)
                    header = handle.read(RECORD_HEADER_BYTES)
                    magic, length, count, crc = _HEADER.unpack(header)
                    body = handle.read(length)
                if magic != _MAGIC or len(body) != length or _crc(body, count) != crc:
                    raise SpoolCorrupt(str(segment.path), self._read_offset, "changed on disk")
                return SpoolBatch(
                    body, count, segment.number, self._read_offset, RECORD_HEADER_BYTES + length
                )
            if self._read_segment == len(self._segments) - 1:
                return None
            self._read_segment += 1
            self._read_offset = 0
        return None

    def _commit_sync(self, batch: SpoolBatch) -> None:
        segment = self._segments[self._read_segment]
        if segment.number != batch.segment or self._read_offset != batch.offset:
            raise SpoolError(str(segment.path), "commit of a batch that is not the oldest")
        self._read_offset += batch.size
        self._batches -= 1
        self._points -= batch.points
        deleted = False
        # Delete every wholly replayed segment, the one being appended to as well once empty.
        while self._segments:
            first = self._segments[0]
            if self._read_segment == 0 and self._read_offset < first.size:
                break
            if len(self._segments) == 1 and self._fd is not None:
                os.close(self._fd)
                self._fd = None
            first.path.unlink(missing_ok=True)
            deleted = True
            self._bytes -= first.size
            self._segments.pop(0)
            if self._read_segment > 0:
                self._read_segment -= 1
            else:
                self._read_offset = 0
        if deleted and self.config.fsync == "always":
            _fsync_directory(self.config.directory)

    def _close_sync(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None


def _crc(body: bytes, points: int) -> int:
    return zlib.crc32(body, zlib.crc32(struct.pack("<I", points)))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
