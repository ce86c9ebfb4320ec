"""A reading travels from a simulated device to InfluxDB: every kind, field by field.

The real stack (Mosquitto, InfluxDB 1.6), ``smartcity gateway`` as its own process, configured
as in production, and the real simulator; the test listens on the broker beside the gateway to
know what was sent, then reads it back with InfluxQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import simulators
from devices import Kind, Registry, device_subscriptions, load_registry, parse_topic
from smartcity.assembly import run_config
from smartcity.bench.gateway_process import GatewayProcess
from smartcity.settings import Settings, load_settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.support import influx_query, wait_for

ROOT = Path(__file__).resolve().parents[2]
PLATE_KEY = "walking-skeleton-key"
MEASUREMENTS = {
    Kind.STREETLIGHT: "streetlight",
    Kind.WATER_QUALITY: "water_quality",
    Kind.TRAFFIC_SIGNAL: "traffic_signal",
    Kind.CHECKPOINT: "checkpoint",
}


class Listener:
    """A plain MQTT subscriber on the device topics: what the devices really sent."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="skeleton-listener")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(topic, 1) for topic in device_subscriptions()])
        self.client.loop_start()
        assert self._subscribed.wait(10)

    def _on_message(self, _client: object, _userdata: object, message: Any) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def sent(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def listener(mosquitto: LocalMosquitto) -> Iterator[Listener]:
    listening = Listener(mosquitto.port)
    yield listening
    listening.close()


def settings_for(tmp_path: Path, database: str) -> Settings:
    return load_settings(
        data_dir=tmp_path,
        influx_database=database,
        plate_hash_key=PLATE_KEY,
        metrics_port=None,
        gateway_client_id=f"skeleton-{database}",
        gateway_ts_past_max_s=86_400.0,
        spool_fsync="never",
    )


def gateway_for(
    settings: Settings, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> GatewayProcess:
    """``smartcity gateway`` as its own process, configured by its environment as in production."""
    return GatewayProcess(
        settings.data_dir / "gateway",
        {
            "mqtt_url": mosquitto.url,
            "influx_url": influxdb.url,
            "influx_database": settings.influx_database,
            "registry_path": ROOT / "config" / "fleet.yaml",
            "rules_path": ROOT / "config" / "rules",
            "alertmanager_config_path": ROOT / "config" / "alertmanager.yml",
            "local_alertmanager_port": 0,
            "plate_hash_key": PLATE_KEY,
            "gateway_client_id": settings.gateway_client_id,
            "gateway_ts_past_max_s": settings.gateway_ts_past_max_s,
            "spool_fsync": "never",
            "log_level": "WARNING",
        },
        cwd=settings.data_dir,
    )


async def run_city(
    settings: Settings,
    registry: Registry,
    mosquitto: LocalMosquitto,
    gateway: GatewayProcess,
    *,
    start: datetime,
    rounds: int,
    garbage: list[tuple[str, bytes]],
) -> None:
    """Simulated city for ``rounds`` report rounds (backfill) through a running gateway,
    garbage mixed in; returns once the gateway has handled every message."""
    config = run_config(
        settings,
        mosquitto.url,
        speed=0.0,
        start=start,
        end=start + timedelta(seconds=settings.simulate_interval_s * rounds),
        client_id_prefix=f"skeleton-{settings.influx_database}",
        dedicated_max=4,
    )
    stats = simulators.SimulationStats()
    async with asyncio.TaskGroup() as group:
        fleet = group.create_task(simulators.run_fleet(config, registry, stats=stats))
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="skeleton-garbage")
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        for topic, payload in garbage:
            publisher.publish(topic, payload, qos=1).wait_for_publish(10)
            await asyncio.sleep(0.05)
        publisher.loop_stop()
        publisher.disconnect()
        await asyncio.wait_for(fleet, 120)
    expected = stats.messages_published + len(garbage)

    def handled() -> bool:
        return (
            gateway.metric("gateway_messages_received") >= expected
            and gateway.metric("gateway_messages_in_flight") == 0
        )

    # polling the figures the gateway exposes is exactly what an operator does
    assert await asyncio.to_thread(wait_for, handled, timeout_s=60)


def test_readings_of_every_kind_arrive_in_influxdb_field_by_field(
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    influx_database: str,
    listener: Listener,
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, influx_database)
    registry = load_registry(ROOT / "config" / "fleet.yaml")
    wq = registry.of_kind(Kind.WATER_QUALITY)[0]
    light = registry.of_kind(Kind.STREETLIGHT)[0]
    garbage = [
        (f"city/{wq.district}/water_quality/{wq.id}/telemetry", b'{"ts": 1, "seq": 1, "ph": 99}'),
        (f"city/{light.district}/streetlight/{light.id}/telemetry", b"\xff\xfe not json"),
        (f"city/{light.district}/streetlight/NOBODY-1/telemetry", b"{}"),
    ]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    gateway = gateway_for(settings, mosquitto, influxdb)
    gateway.start()
    try:
        asyncio.run(
            run_city(settings, registry, mosquitto, gateway, start=start, rounds=3, garbage=garbage)
        )
        rejected = gateway.metric("gateway_messages_rejected")
    finally:
        assert gateway.stop() == 0

    # The malformed messages were rejected with a reason, and the gateway went on.
    assert rejected == len(garbage)
    events = [
        orjson.loads(line)
        for line in (gateway.data_dir / "smartcity.log").read_text(encoding="utf-8").splitlines()
    ]
    rejections = [event for event in events if event["event"] == "message_dead_lettered"]
    assert len(rejections) == len(garbage)
    assert all(event.get("reason") for event in rejections)

    sent = listener.sent()
    valid = [(topic, payload) for topic, payload in sent if (topic, payload) not in garbage]
    telemetry = [
        (parse_topic(topic), orjson.loads(payload))
        for topic, payload in valid
        if topic.endswith("/telemetry")
    ]
    kinds_sent = {topic.kind for topic, _ in telemetry}
    assert kinds_sent == set(Kind), "the simulator publishes every kind"

    for kind, measurement in MEASUREMENTS.items():
        rows = influx_query(influxdb.url, influx_database, f'SELECT * FROM "{measurement}"')
        stored = {(row["device_id"], row["seq"]): row for row in rows}
        sent_of_kind = [(topic, body) for topic, body in telemetry if topic.kind is kind]
        assert len(stored) == len(sent_of_kind), f"{kind}: each reading stored exactly once"
        for topic, body in sent_of_kind:
            row = stored[(topic.device_id, body["seq"])]
            record = registry[topic.device_id]
            for tag, value in record.tags().items():
                assert row[tag] == value, f"{topic}: tag {tag}"
            for name, value in body.items():
                if name in {"ts", "device_id", "approaches"}:
                    continue
                if name == "faults":
                    assert (row.get("faults") or "") == ",".join(value)
                    continue
                assert row[name] == pytest.approx(value), f"{topic}: field {name}"
            if kind is Kind.TRAFFIC_SIGNAL:
                approaches = influx_query(
                    influxdb.url,
                    influx_database,
                    f"SELECT * FROM traffic_signal_approach WHERE device_id = '{topic.device_id}'"
                    f" AND seq = {body['seq']}",
                )
                by_name = {row["approach"]: row for row in approaches}
                for approach in body["approaches"]:
                    row = by_name[approach["approach"]]
                    for name in ("queue_veh", "volume_veh", "occupancy_pct"):
                        assert row[name] == pytest.approx(approach[name])

    # Checkpoint events: plates are stored only as keyed hashes.
    passes = [
        orjson.loads(payload)
        for topic, payload in valid
        if topic.endswith("/event") and b"vehicle_pass" in payload
    ]
    assert passes, "the checkpoints reported vehicles"
    rows = influx_query(influxdb.url, influx_database, "SELECT * FROM checkpoint_pass")
    assert len(rows) == len(passes)
    hashes = {row["plate_hash"] for row in rows}
    for event in passes:
        digest = hmac.new(PLATE_KEY.encode(), event["plate"].encode(), hashlib.sha256).hexdigest()
        assert digest in hashes
        assert all(event["plate"] not in str(value) for row in rows for value in row.values())
