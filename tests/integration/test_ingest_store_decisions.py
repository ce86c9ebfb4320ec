"""``DurableStore``'s decisions against a real InfluxDB 1.6 that a test stops, starts, feeds
conflicting types or gives a small body limit: write directly, spool, replay, refuse, park, split.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ingest import (
    Durability,
    DurableStore,
    InfluxV1Config,
    InfluxV1Writer,
    Point,
    Spool,
    SpoolConfig,
    StoreConfig,
    StoreUnavailable,
    WriteFailed,
)
from smartcity.stack import LocalInfluxDB
from tests.support import influx_query

DATABASE = "decisions"
Factory = Callable[..., LocalInfluxDB]


def points(index: int, count: int = 3) -> list[Point]:
    """``count`` points of batch ``index``: tag b names the batch, f counts, times are distinct."""
    return [
        Point("m", (("b", str(index)),), (("f", n),), 1_700_000_000_000_000_000 + index * 100 + n)
        for n in range(count)
    ]


def writer_for(server: LocalInfluxDB) -> InfluxV1Writer:
    return InfluxV1Writer(
        InfluxV1Config(
            url=server.url,
            database=DATABASE,
            retention_policy=None,
            username=None,
            password=None,
            timeout_s=2.0,
            gzip=False,
            max_in_flight=2,
        )
    )


def make_store(
    writer: InfluxV1Writer, directory: Path, *, max_bytes: int = 1 << 20
) -> DurableStore:
    spool = Spool(
        SpoolConfig(
            directory=directory,
            max_bytes=max_bytes,
            segment_max_bytes=min(max_bytes, 4096),
            fsync="never",
        )
    )
    return DurableStore(
        writer, spool, StoreConfig(max_in_flight=2, retry_initial_s=0.05, retry_max_s=0.2)
    )


def database(make_influxdb: Factory, **options: object) -> LocalInfluxDB:
    server = make_influxdb(**options)
    created = httpx.post(
        f"{server.url}/query", params={"q": f"CREATE DATABASE {DATABASE}"}, timeout=10
    )
    created.raise_for_status()
    return server


def stored(server: LocalInfluxDB) -> list[tuple[str, int]]:
    rows = influx_query(server.url, DATABASE, 'SELECT "f" FROM "m" GROUP BY "b"')
    return sorted((row["b"], row["f"]) for row in rows)


def expected(batches: range, count: int = 3) -> list[tuple[str, int]]:
    return sorted((str(index), n) for index in batches for n in range(count))


async def wait_until_drained(store: DurableStore) -> None:
    async with asyncio.timeout(30):
        await store.wait_drained()


async def test_healthy_database_gets_the_points_directly(
    make_influxdb: Factory, tmp_path: Path
) -> None:
    server = database(make_influxdb)
    async with writer_for(server) as writer, make_store(writer, tmp_path / "spool") as store:
        assert await store.store(points(1)) is Durability.WRITTEN
    assert stored(server) == expected(range(1, 2))
    assert store.stats().points_written == 3


async def test_outage_spools_and_replays_when_the_database_returns(
    make_influxdb: Factory, tmp_path: Path
) -> None:
    server = database(make_influxdb)
    async with writer_for(server) as writer, make_store(writer, tmp_path / "spool") as store:
        server.stop()
        results = [await store.store(points(index)) for index in range(20)]
        assert set(results) == {Durability.SPOOLED}
        assert not store.healthy
        await asyncio.to_thread(server.start)
        await wait_until_drained(store)
        assert store.healthy
        assert await store.store(points(99)) is Durability.WRITTEN
    assert stored(server) == expected(range(20)) + expected(range(99, 100))
    stats = store.stats()
    assert (stats.points_spooled, stats.points_replayed) == (60, 60)
    assert stats.failures["connect"] >= 1


async def test_spool_left_at_shutdown_is_replayed_after_restart(
    make_influxdb: Factory, tmp_path: Path
) -> None:
    server = database(make_influxdb)
    server.stop()
    async with writer_for(server) as writer, make_store(writer, tmp_path / "spool") as store:
        for index in range(5):
            assert await store.store(points(index)) is Durability.SPOOLED
    server.start()
    async with writer_for(server) as writer, make_store(writer, tmp_path / "spool") as store:
        await wait_until_drained(store)
    assert stored(server) == expected(range(5))


def give_f_another_type(server: LocalInfluxDB) -> None:
    """Store ``m.f`` as a string: every integer ``f`` after it is a type conflict (HTTP 400)."""
    written = httpx.post(
        f"{server.url}/write",
        params={"db": DATABASE},
        content=b'm,b=first f="text" 1700000000000000000\n',
        timeout=10,
    )
    assert written.status_code == 204, written.text


async def test_rejected_points_are_raised_not_spooled(
    make_influxdb: Factory, tmp_path: Path
) -> None:
    server = database(make_influxdb)
    give_f_another_type(server)
    async with writer_for(server) as writer, make_store(writer, tmp_path / "spool") as store:
        with pytest.raises(WriteFailed) as caught:
            await store.store(points(1))
        assert caught.value.status == 400
        assert caught.value.lines == (1, 2, 3)
        assert store.spool.is_empty()


async def test_database_down_and_spool_full_is_store_unavailable(
    make_influxdb: Factory, tmp_path: Path
) -> None:
    server = database(make_influxdb)
    server.stop()
    async with (
        writer_for(server) as writer,
        make_store(writer, tmp_path / "spool", max_bytes=160) as store,
    ):
        await store.store(points(1))
        with pytest.raises(StoreUnavailable) as caught:
            await store.store(points(2))
        assert "full" in caught.value.reason
        assert store.stats().points_refused == 3


async def test_spooled_batch_the_database_rejects_is_parked_beside_the_spool(
    make_influxdb: Factory, tmp_path: Path
) -> None:
    server = database(make_influxdb)
    give_f_another_type(server)
    server.stop()
    async with writer_for(server) as writer, make_store(writer, tmp_path / "spool") as store:
        assert await store.store(points(1)) is Durability.SPOOLED
        await asyncio.to_thread(server.start)
        await wait_until_drained(store)
    [parked] = (tmp_path / "spool" / "rejected").iterdir()
    assert b"m,b=1" in parked.read_bytes()
    assert store.stats().points_rejected == 3


async def test_body_too_large_for_the_server_is_split_until_it_fits(
    make_influxdb: Factory, tmp_path: Path
) -> None:
    server = database(make_influxdb, max_body_size=120)
    async with writer_for(server) as writer, make_store(writer, tmp_path / "spool") as store:
        assert await store.store(points(1, count=10)) is Durability.WRITTEN
    assert stored(server) == expected(range(1, 2), count=10)
    assert store.stats().failures.get("too_large", 0) >= 1
