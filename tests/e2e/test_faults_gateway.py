"""The gateway under faults: nothing the broker accepted is lost, nothing is stored twice.

Each test streams QoS 1 readings through ``smartcity gateway`` running as its own process,
configured by its environment as in production, breaks something mid-stream, and then checks
that InfluxDB holds every message the broker acknowledged to the publisher exactly once: the
count, and the sum of a field whose value each message derives from its device and sequence (so
a wrong or mixed-up point shows). A point's identity is (measurement, tags, time), so a
redelivered message overwrites itself; a lost one lowers the count.
"""

from __future__ import annotations

import contextlib
import random
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devices import Registry
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import (
    Publisher,
    create_database,
    district_subscriptions,
    fleet,
    gateway_process,
    stored_readings,
    stream,
    unique_district,
)
from tests.support import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

STREAM = 100_000


def _subscription(registry: Registry) -> str:
    (district,) = {record.district for record in registry.values()}
    return district_subscriptions(district)[0]


def _publish_in_background(
    publisher: Publisher, messages: list[tuple[str, bytes, float]]
) -> threading.Thread:
    thread = threading.Thread(target=publisher.publish_all, args=(messages,), daemon=True)
    thread.start()
    return thread


def _check_exactly_once(
    name: str,
    url: str,
    database: str,
    publisher: Publisher,
    messages: list[tuple[str, bytes, float]],
    timeout_s: float = 120,
) -> None:
    assert publisher.wait_settled(timeout_s=60), "the broker did not acknowledge every publish"
    accepted = publisher.accepted
    expected_sum = sum(messages[number][2] for number in accepted)
    started = time.monotonic()
    wait_for(
        lambda: stored_readings(url, database)[0] >= len(accepted),
        timeout_s=timeout_s,
        interval_s=0.5,
    )
    count, power_sum = stored_readings(url, database)
    print(
        f"\n{name}: published {len(messages)}, accepted by the broker {len(accepted)},"
        f" in InfluxDB {count} (sum of power_w {power_sum:.0f}, expected {expected_sum:.0f});"
        f" caught up {time.monotonic() - started:.1f} s after the last publish was acknowledged"
    )
    assert len(accepted) == len(messages)
    assert count == len(accepted)
    assert power_sum == pytest.approx(expected_sum)


@pytest.fixture
def registry_and_stream() -> tuple[Registry, list[tuple[str, bytes, float]]]:
    registry = fleet(100, district=unique_district())
    return registry, stream(registry, STREAM, int(time.time() * 1000) - 600_000)


def test_a_gateway_killed_again_and_again_loses_nothing_and_stores_nothing_twice(
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    influx_database: str,
    tmp_path: Path,
    registry_and_stream: tuple[Registry, list[tuple[str, bytes, float]]],
) -> None:
    registry, messages = registry_and_stream
    create_database(influxdb.url, influx_database)
    worker = gateway_process(
        tmp_path,
        registry,
        mqtt_port=mosquitto.port,
        influx_url=influxdb.url,
        database=influx_database,
        gateway_subscription=_subscription(registry),
    )
    worker.start()
    publisher = Publisher(mosquitto.port)
    sender = _publish_in_background(publisher, messages)
    kills = 0
    rng = random.Random(5)
    try:
        while kills < 4:
            time.sleep(rng.uniform(0.8, 2.0))
            worker.kill()
            kills += 1
            worker.start()
        sender.join(timeout=120)
        _check_exactly_once(f"SIGKILL x{kills}", influxdb.url, influx_database, publisher, messages)
    finally:
        publisher.close()
        worker.kill()


def test_influxdb_down_for_a_minute_is_a_delay_not_a_loss(
    mosquitto: LocalMosquitto,
    make_influxdb: Callable[..., LocalInfluxDB],
    tmp_path: Path,
    registry_and_stream: tuple[Registry, list[tuple[str, bytes, float]]],
) -> None:
    registry, messages = registry_and_stream
    influx = make_influxdb()
    create_database(influx.url, "faults")
    worker = gateway_process(
        tmp_path,
        registry,
        mqtt_port=mosquitto.port,
        influx_url=influx.url,
        database="faults",
        gateway_subscription=_subscription(registry),
    )
    worker.start()
    publisher = Publisher(mosquitto.port)
    sender = _publish_in_background(publisher, messages)
    try:
        wait_for(lambda: len(publisher.sent) > STREAM // 4, timeout_s=60)
        influx.stop()
        time.sleep(60)
        assert worker.alive()
        spooled = worker.metric("gateway_spool_points")
        influx.start()
        sender.join(timeout=120)
        print(f"\nspool held {spooled:.0f} points when InfluxDB came back")
        _check_exactly_once("InfluxDB down 60 s", influx.url, "faults", publisher, messages)
    finally:
        publisher.close()
        worker.kill()


def test_a_mosquitto_restart_mid_stream_loses_nothing(
    make_mosquitto: Callable[..., LocalMosquitto],
    influxdb: LocalInfluxDB,
    influx_database: str,
    tmp_path: Path,
    registry_and_stream: tuple[Registry, list[tuple[str, bytes, float]]],
) -> None:
    registry, messages = registry_and_stream
    broker = make_mosquitto()
    create_database(influxdb.url, influx_database)
    worker = gateway_process(
        tmp_path,
        registry,
        mqtt_port=broker.port,
        influx_url=influxdb.url,
        database=influx_database,
        gateway_subscription=_subscription(registry),
    )
    worker.start()
    publisher = Publisher(broker.port)
    sender = _publish_in_background(publisher, messages)
    try:
        wait_for(lambda: len(publisher.sent) > STREAM // 3, timeout_s=60)
        broker.restart()
        sender.join(timeout=120)
        _check_exactly_once(
            "Mosquitto restarted", influxdb.url, influx_database, publisher, messages
        )
        assert worker.alive()
    finally:
        publisher.close()
        worker.kill()


@contextlib.contextmanager
def _small_disk(path: Path, size: str) -> Iterator[bool]:
    """A tiny tmpfs at ``path`` (root only); yields whether it is a real small disk."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_spool_disk_holds_messages_at_the_broker_until_influxdb_returns(
    mosquitto: LocalMosquitto,
    make_influxdb: Callable[..., LocalInfluxDB],
    tmp_path: Path,
) -> None:
    registry = fleet(50, district=unique_district())
    messages = stream(registry, 30_000, int(time.time() * 1000) - 600_000)
    influx = make_influxdb()
    create_database(influx.url, "diskfull")
    with _small_disk(tmp_path / "spool", "2m") as real_disk:
        worker = gateway_process(
            tmp_path,
            registry,
            mqtt_port=mosquitto.port,
            influx_url=influx.url,
            database="diskfull",
            gateway_subscription=_subscription(registry),
            spool_dir=tmp_path / "spool",
            # without a small disk to fill, the spool's own bound stands in for it
            spool_max_bytes=512 * 1024 * 1024 if real_disk else 2 * 1024 * 1024,
        )
        worker.start()
        publisher = Publisher(mosquitto.port)
        try:
            influx.stop()
            publisher.publish_all(messages)
            assert publisher.wait_settled()
            # the disk fills, the store refuses, the gateway stops acking: the broker holds the rest
            assert wait_for(lambda: worker.metric("gateway_store_retries") > 0, timeout_s=60)
            assert worker.alive()
            held = len(messages) - worker.metric("gateway_messages_stored")
            print(
                f"\nspool disk full ({'tmpfs 2 MB' if real_disk else 'spool bound 2 MB'}):"
                f" {held:.0f} messages waiting unacknowledged"
            )
            assert held > 0
            influx.start()
            _check_exactly_once("spool disk full", influx.url, "diskfull", publisher, messages)
        finally:
            publisher.close()
            worker.kill()
