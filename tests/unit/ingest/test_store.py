"""``DurableStore``'s decisions, with a writer of our own that can be told to fail (the
database side is covered against real InfluxDB in tests/integration/test_ingest_store.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ingest import (
    Durability,
    DurableStore,
    Point,
    Spool,
    SpoolConfig,
    StoreConfig,
    StoreUnavailable,
    WriteFailed,
    encode_lines,
)


class ToggleWriter:
    """Keeps what it is given; fails with ``failure`` while one is set."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.failure: WriteFailed | None = None
        self.max_bytes: int | None = None
        self.written = asyncio.Event()

    async def write(self, body: bytes) -> None:
        await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure
        if self.max_bytes is not None and len(body) > self.max_bytes:
            raise WriteFailed("too_large", retryable=False, status=413, reason="too large")
        self.bodies.append(body)
        self.written.set()

    async def ping(self) -> bool:
        return self.failure is None

    async def aclose(self) -> None:
        return None


DOWN = WriteFailed("connect", retryable=True, status=None, reason="connection refused")
BAD = WriteFailed("rejected", retryable=False, status=400, reason="bad", lines=(1,))


def points(index: int, count: int = 3) -> list[Point]:
    return [Point("m", (("b", str(index)),), (("f", n),), n) for n in range(count)]


def make_store(writer: ToggleWriter, directory: Path, *, max_bytes: int = 1 << 20) -> DurableStore:
    spool = Spool(
        SpoolConfig(
            directory=directory,
            max_bytes=max_bytes,
            segment_max_bytes=min(max_bytes, 4096),
            fsync="never",
        )
    )
    return DurableStore(
        writer, spool, StoreConfig(max_in_flight=2, retry_initial_s=0.01, retry_max_s=0.05)
    )


async def wait_until_drained(store: DurableStore) -> None:
    async with asyncio.timeout(10):
        await store.wait_drained()


async def test_healthy_database_gets_the_points_directly(tmp_path: Path) -> None:
    writer = ToggleWriter()
    async with make_store(writer, tmp_path) as store:
        assert await store.store(points(1)) is Durability.WRITTEN
    assert len(writer.bodies) == 1
    assert store.stats().points_written == 3


async def test_outage_spools_and_replays_in_order_when_the_database_returns(
    tmp_path: Path,
) -> None:
    writer = ToggleWriter()
    writer.failure = DOWN
    async with make_store(writer, tmp_path) as store:
        results = [await store.store(points(index)) for index in range(20)]
        assert set(results) == {Durability.SPOOLED}
        assert not store.healthy
        writer.failure = None
        await wait_until_drained(store)
        assert store.healthy
        assert await store.store(points(99)) is Durability.WRITTEN
    replayed = [body.split(b",b=")[1].split(b" ")[0] for body in writer.bodies[:20]]
    assert replayed == [str(index).encode() for index in range(20)]
    stats = store.stats()
    assert (stats.points_spooled, stats.points_replayed) == (60, 60)
    assert stats.failures["connect"] >= 1


async def test_spool_left_at_shutdown_is_replayed_after_restart(tmp_path: Path) -> None:
    writer = ToggleWriter()
    writer.failure = DOWN
    async with make_store(writer, tmp_path) as store:
        for index in range(5):
            await store.store(points(index))
    writer.failure = None
    async with make_store(writer, tmp_path) as store:
        await wait_until_drained(store)
    assert len(writer.bodies) == 5


async def test_rejected_points_are_raised_not_spooled(tmp_path: Path) -> None:
    writer = ToggleWriter()
    writer.failure = BAD
    async with make_store(writer, tmp_path) as store:
        with pytest.raises(WriteFailed) as caught:
            await store.store(points(1))
        assert caught.value.lines == (1,)
        assert store.spool.is_empty()


async def test_database_down_and_spool_full_is_store_unavailable(tmp_path: Path) -> None:
    writer = ToggleWriter()
    writer.failure = DOWN
    async with make_store(writer, tmp_path, max_bytes=100) as store:
        await store.store(points(1))
        with pytest.raises(StoreUnavailable) as caught:
            await store.store(points(2))
        assert "full" in caught.value.reason
        assert store.stats().points_refused == 3


async def test_spooled_batch_the_database_rejects_is_parked_beside_the_spool(
    tmp_path: Path,
) -> None:
    writer = ToggleWriter()
    writer.failure = DOWN
    async with make_store(writer, tmp_path) as store:
        await store.store(points(1))
        writer.failure = BAD
        await wait_until_drained(store)
    [parked] = (tmp_path / "rejected").iterdir()
    assert b"m,b=1" in parked.read_bytes()
    assert store.stats().points_rejected == 3


async def test_body_too_large_for_the_server_is_split_until_it_fits(tmp_path: Path) -> None:
    writer = ToggleWriter()
    writer.max_bytes = 60
    async with make_store(writer, tmp_path) as store:
        assert await store.store(points(1, count=10)) is Durability.WRITTEN
    assert b"".join(writer.bodies) == encode_lines(points(1, count=10))
    assert all(len(body) <= 60 for body in writer.bodies)
