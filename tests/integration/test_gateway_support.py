"""Helpers for the gateway's integration and fault tests (no tests of its own).

A fleet of streetlights, payloads whose content can be checked back from InfluxDB, a QoS 1
publisher that counts what the broker accepted, and ways to run a gateway in this process or as
its own process (``smartcity gateway``, configured by its environment as in production).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices import DeviceRecord, Kind, Registry, device_subscriptions, dump_registry
from gateway import Gateway, GatewayConfig
from ingest import (
    DurableStore,
    InfluxV1Config,
    InfluxV1Writer,
    Spool,
    SpoolConfig,
    StoreConfig,
)
from smartcity.bench.gateway_process import GatewayProcess
from tests.support import influx_query, wait_for

ROOT = Path(__file__).resolve().parents[2]
DISTRICT = "riverside"
_districts = itertools.count(1)


def unique_district() -> str:
    """A district no other test publishes in, so retained messages others leave stay out."""
    return f"gw{os.getpid()}-{next(_districts)}"


def district_subscriptions(*districts: str) -> tuple[str, ...]:
    """Every topic of the given districts (tests publish no commands)."""
    return tuple(f"city/{district}/+/+/+" for district in districts)


def fleet(count: int, prefix: str = "SL", district: str = DISTRICT) -> Registry:
    """``count`` streetlights in one district."""
    return Registry.from_records(
        [
            DeviceRecord(
                id=f"{prefix}-{index:04d}",
                kind=Kind.STREETLIGHT,
                district=district,
                cabinet=f"C-{index % 4:02d}",
            )
            for index in range(count)
        ]
    )


def topic_of(device_id: str, channel: str = "telemetry", district: str = DISTRICT) -> str:
    return f"city/{district}/streetlight/{device_id}/{channel}"


def power_of(device_index: int, seq: int) -> float:
    """The power a test reading carries: derived from who and which, so content is checkable."""
    return float((device_index * 7 + seq) % 1000)


def telemetry(device_id: str, seq: int, ts_ms: int, power_w: float, **changes: Any) -> bytes:
    """A valid streetlight reading (``changes`` override or add fields)."""
    payload: dict[str, Any] = {
        "ts": ts_ms,
        "seq": seq,
        "power_w": power_w,
        "voltage_v": 220.0,
        "current_a": 0.4,
        "power_factor": 0.95,
        "energy_kwh": 12.5,
        "lamp_on": True,
        "dimming_pct": 80.0,
        "ambient_lux": 2.0,
        "lamp_temp_c": 35.0,
    }
    payload.update(changes)
    return orjson.dumps(payload)


def stream(registry: Registry, count: int, ts_ms: int) -> list[tuple[str, bytes, float]]:
    """``count`` readings spread over the fleet: (topic, payload, power_w)."""
    devices = list(registry)
    messages = []
    for number in range(count):
        index = number % len(devices)
        seq = number // len(devices)
        power = power_of(index, seq)
        # one millisecond per seq: every reading has its own time, as a real device's would
        payload = telemetry(devices[index], seq, ts_ms + seq, power)
        district = registry[devices[index]].district
        messages.append((topic_of(devices[index], district=district), payload, power))
    return messages


def gateway_config(mqtt_port: int, **changes: Any) -> GatewayConfig:
    """A gateway configuration for tests: the settings' defaults, small timeouts."""
    config = GatewayConfig(
        mqtt_host="127.0.0.1",
        mqtt_port=mqtt_port,
        mqtt_username=None,
        mqtt_password=None,
        client_id=f"gw-test-{time.monotonic_ns()}",
        subscriptions=tuple(device_subscriptions()),
        worker_index=0,
        worker_count=1,
        receive_max=20_000,
        session_expiry_s=3600,
        keepalive_s=10,
        payload_max_bytes=64 * 1024,
        unknown_devices="reject",
        ts_future_max_s=300.0,
        ts_past_max_s=30 * 86400.0,
        batch_max=2000,
        batch_age_s=0.05,
        batches_in_flight=4,
        queue_max=40_000,
        deadletter_payload_max_bytes=1024,
        plate_hash_key=b"test-key",
        stats_interval_s=1.0,
        metrics_host="127.0.0.1",
        metrics_port=0,
        shutdown_timeout_s=10.0,
    )
    return replace(config, **changes)


def create_database(url: str, database: str) -> None:
    response = httpx.post(f"{url}/query", params={"q": f'CREATE DATABASE "{database}"'}, timeout=10)
    response.raise_for_status()


def influx_config(url: str, database: str) -> InfluxV1Config:
    return InfluxV1Config(
        url=url,
        database=database,
        retention_policy=None,
        username=None,
        password=None,
        timeout_s=5.0,
        gzip=False,
        max_in_flight=4,
    )


def spool_config(directory: Path, max_bytes: int = 512 * 1024 * 1024) -> SpoolConfig:
    return SpoolConfig(
        directory=directory, max_bytes=max_bytes, segment_max_bytes=8 * 1024 * 1024, fsync="never"
    )


STORE_CONFIG = StoreConfig(max_in_flight=4, retry_initial_s=0.2, retry_max_s=2.0)


@asynccontextmanager
async def running_gateway(
    config: GatewayConfig, registry: Registry, url: str, database: str, spool_dir: Path
) -> AsyncIterator[Gateway]:
    """A gateway in this process with a real ``DurableStore``; stopped gracefully at exit."""
    create_database(url, database)
    writer = InfluxV1Writer(influx_config(url, database))
    async with writer, DurableStore(writer, Spool(spool_config(spool_dir)), STORE_CONFIG) as store:
        gateway = Gateway(config, registry, store)
        task = asyncio.create_task(gateway.run())
        ready = asyncio.create_task(gateway.ready.wait())
        await asyncio.wait([task, ready], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()
        try:
            yield gateway
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


class Publisher:
    """A QoS 1 publisher (its own persistent session) that records what the broker accepted.

    Call it from a thread (``asyncio.to_thread``) in async tests: it blocks.
    """

    def __init__(self, port: int, client_id: str | None = None) -> None:
        self.sent: list[tuple[int, mqtt.MQTTMessageInfo]] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"pub-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port, keepalive=30, clean_start=False)
        self.client.loop_start()

    def publish(self, number: int, topic: str, payload: bytes) -> None:
        self.sent.append((number, self.client.publish(topic, payload, qos=1)))

    def publish_all(self, messages: Iterable[tuple[str, bytes, float]]) -> None:
        for number, (topic, payload, _) in enumerate(messages):
            self.publish(number, topic, payload)
            if number % 1000 == 999:
                # keep paho's outgoing queue short: the broker, not our memory, holds the backlog
                while self.unsettled(last=5000) > 4000:
                    time.sleep(0.005)

    def unsettled(self, last: int | None = None) -> int:
        window = self.sent if last is None else self.sent[-last:]
        return sum(1 for _, info in window if not info.is_published())

    @property
    def accepted(self) -> set[int]:
        """Numbers of the messages the broker acknowledged."""
        return {number for number, info in self.sent if info.is_published()}

    def wait_settled(self, timeout_s: float = 120) -> bool:
        """Until every publish was acknowledged by the broker."""
        return wait_for(lambda: self.unsettled() == 0, timeout_s=timeout_s, interval_s=0.1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored_readings(url: str, database: str) -> tuple[int, float]:
    """(count, sum of power_w) of the streetlight readings InfluxDB holds."""
    rows = influx_query(url, database, 'SELECT count("seq"), sum("power_w") FROM "streetlight"')
    if not rows:
        return 0, 0.0
    return int(rows[0]["count"]), float(rows[0]["sum"])


def dead_letters(url: str, database: str) -> list[dict[str, Any]]:
    return influx_query(url, database, 'SELECT * FROM "deadletter"')


# What the tests change from the settings' defaults: small timeouts, no fsync (speed), stats
# every second, and a window and hand-off large enough for 100,000-message bursts.
TEST_SETTINGS: dict[str, object] = {
    "influx_timeout_s": 5.0,
    "ingest_retry_initial_s": 0.2,
    "ingest_retry_max_s": 2.0,
    "spool_fsync": "never",
    "spool_segment_max_bytes": 4 * 1024 * 1024,
    "gateway_receive_max": 20_000,
    "gateway_queue_max": 40_000,
    "gateway_keepalive_s": 10,
    "gateway_stats_interval_s": 1.0,
    "plate_hash_key": "test-key",
    "log_level": "WARNING",
}


def gateway_process(
    workdir: Path,
    registry: Registry,
    *,
    mqtt_port: int,
    influx_url: str,
    database: str,
    name: str = "gateway",
    engine: bool = True,
    **settings: object,
) -> GatewayProcess:
    """``smartcity gateway`` as its own process, configured by its environment as in
    production: the registry, broker and database given, its data in ``workdir/name``,
    ``settings`` (Settings field names) over the test defaults."""
    workdir.mkdir(parents=True, exist_ok=True)
    registry_path = workdir / "fleet.yaml"
    if not registry_path.exists():
        dump_registry(registry, registry_path)
    values: dict[str, object] = {
        **TEST_SETTINGS,
        "mqtt_url": f"mqtt://127.0.0.1:{mqtt_port}",
        "influx_url": influx_url,
        "influx_database": database,
        "registry_path": registry_path,
        "rules_path": ROOT / "config" / "rules",
        # its rule engine notifies through a local Alertmanager of its own, on a free port
        "alertmanager_config_path": ROOT / "config" / "alertmanager.yml",
        "local_alertmanager_port": 0,
        "gateway_client_id": f"gw-test-{time.monotonic_ns()}",
        **settings,
    }
    return GatewayProcess(workdir / name, values, engine=engine, cwd=workdir)
