"""``DurableStore`` against a real InfluxDB 1.6.7 that goes away and comes back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx

from ingest import (
    Durability,
    DurableStore,
    InfluxV1Config,
    InfluxV1Writer,
    Point,
    Spool,
    SpoolConfig,
    StoreConfig,
)
from smartcity.stack import LocalInfluxDB, free_port
from tests.support import influx_count

DATABASE = "outage"


def create_database(url: str) -> None:
    httpx.post(f"{url}/query", params={"q": f"CREATE DATABASE {DATABASE}"}, timeout=10)


def batch(index: int, size: int = 50) -> list[Point]:
    return [
        Point(
            "reading",
            (("device_id", f"D-{n % 5}"),),
            (("seq", index * size + n), ("value", float(n))),
            1_700_000_000_000_000_000 + index * size + n,
        )
        for n in range(size)
    ]


def store_for(url: str, spool_dir: Path) -> tuple[InfluxV1Writer, DurableStore]:
    writer = InfluxV1Writer(
        InfluxV1Config(
            url=url,
            database=DATABASE,
            retention_policy=None,
            username=None,
            password=None,
            timeout_s=2.0,
            gzip=False,
            max_in_flight=4,
        )
    )
    spool = Spool(
        SpoolConfig(
            directory=spool_dir, max_bytes=64 << 20, segment_max_bytes=64 << 10, fsync="always"
        )
    )
    config = StoreConfig(max_in_flight=4, retry_initial_s=0.05, retry_max_s=0.5)
    return writer, DurableStore(writer, spool, config)


async def test_influxdb_outage_is_a_delay_not_a_loss(
    make_influxdb: Callable[..., LocalInfluxDB], tmp_path: Path
) -> None:
    server = make_influxdb()
    create_database(server.url)
    writer, store = store_for(server.url, tmp_path / "spool")
    pid = server.pid
    assert pid is not None
    async with writer, store:
        before = await asyncio.gather(*(store.store(batch(index)) for index in range(10)))
        assert set(before) == {Durability.WRITTEN}
        # A hung server (SIGSTOP): writes time out, as when a database is overloaded or the
        # network drops packets. (A stopped one refuses connections: see the next test.)
        os.kill(pid, signal.SIGSTOP)
        try:
            during = [await store.store(batch(index)) for index in range(10, 30)]
            assert set(during) == {Durability.SPOOLED}
            assert store.stats().spool_batches == 20
            assert store.stats().failures.get("timeout", 0) >= 1
        finally:
            os.kill(pid, signal.SIGCONT)
        async with asyncio.timeout(60):
            await store.wait_drained()
        assert await store.store(batch(30)) is Durability.WRITTEN
        stats = store.stats()
    assert influx_count(server.url, DATABASE, "reading") == 31 * 50
    assert stats.points_replayed == 20 * 50
    assert stats.spool_bytes == 0
    assert list((tmp_path / "spool").glob("*.spool")) == []


async def test_points_spooled_before_a_restart_reach_the_database_after_it(
    make_influxdb: Callable[..., LocalInfluxDB], tmp_path: Path
) -> None:
    # Nothing listens yet (connection refused): everything goes to the spool, and our process
    # "restarts" (the store is closed and a new one opened on the same folder).
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    writer, store = store_for(url, tmp_path / "spool")
    async with writer, store:
        for index in range(5):
            assert await store.store(batch(index)) is Durability.SPOOLED
        assert set(store.stats().failures) == {"connect"}
    server = await asyncio.to_thread(make_influxdb, port=port)
    create_database(server.url)
    writer, store = store_for(url, tmp_path / "spool")
    async with writer, store:
        async with asyncio.timeout(60):
            await store.wait_drained()
    assert influx_count(url, DATABASE, "reading") == 5 * 50
