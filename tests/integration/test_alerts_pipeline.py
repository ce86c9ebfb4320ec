"""The rule engine on the real path: simulated devices → Mosquitto → gateway (validate, store,
ack) → rule engine → alert changes published on MQTT and stored in InfluxDB through ingest.

Scenarios run at 600× speed, so the engine times rules by the devices' clocks (event time).
Each test has its own broker: the fleet leaves retained offline statuses behind when it stops.
The run is placed on yesterday's date: the gateway refuses readings from the future or from more
than 30 days ago, and the scenarios' own dates are in 2024.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import orjson

import simulators
from alerts import AlertEngine, AlertsConfig, load_rules
from devices import Registry, load_registry
from gateway import Gateway
from ingest import DurableStore, InfluxV1Writer, Spool
from smartcity.assembly import alert_listeners, alert_publisher, alerts_config
from smartcity.settings import load_settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import (
    STORE_CONFIG,
    create_database,
    gateway_config,
    influx_config,
    spool_config,
)
from tests.support import influx_query

ROOT = Path(__file__).parents[2]
CITY = ZoneInfo("Asia/Shanghai")
SPEED = 600.0


def yesterday_at(clock: time) -> datetime:
    day = datetime.now(CITY).date() - timedelta(days=1)
    return datetime.combine(day, clock, tzinfo=CITY)


class AlertSubscriber:
    """Everything published under city/alerts/, as an operator's MQTT client would see it."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self.topics: list[str] = []

    async def run(self, client: aiomqtt.Client) -> None:
        await client.subscribe("city/alerts/#", qos=1)
        async for message in client.messages:
            self.topics.append(str(message.topic))
            assert isinstance(message.payload, bytes)
            self.documents.append(orjson.loads(message.payload))

    def seen(self) -> list[tuple[str, str, str]]:
        return [
            (d["change"], d["rule"], d["labels"].get("device") or d["labels"].get("cabinet"))
            for d in self.documents
        ]


@asynccontextmanager
async def platform(
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    database: str,
    folder: Path,
    registry: Registry,
) -> AsyncIterator[tuple[AlertEngine, AlertSubscriber]]:
    """Gateway, rule engine and an alert subscriber, wired as ``smartcity up`` wires them."""
    settings = load_settings(
        alerts_event_time=True,
        alerts_watch_rules=False,
        alerts_reannounce_interval_s=0,
        rules_path=ROOT / "config" / "rules",
        gateway_client_id="alerts-test",
    )
    config: AlertsConfig = alerts_config(settings)
    create_database(influxdb.url, database)
    subscriber = AlertSubscriber()
    writer = InfluxV1Writer(influx_config(influxdb.url, database))
    async with (
        writer,
        DurableStore(writer, Spool(spool_config(folder / "spool")), STORE_CONFIG) as store,
        alert_publisher(settings, mosquitto.url) as publisher,
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="alerts-test-sub") as listener,
    ):
        listeners = alert_listeners(settings, publisher=publisher, store=store)
        async with AlertEngine(
            config,
            load_rules(settings.rules_path),
            registry,
            folder / "alerts.sqlite",
            listeners=listeners,
        ) as engine:
            gateway = Gateway(gateway_config(mosquitto.port), registry, store, sink=engine)
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(subscriber.run(listener))]
                tasks.append(group.create_task(gateway.run()))
                async with asyncio.timeout(30):
                    await gateway.ready.wait()
                try:
                    yield engine, subscriber
                finally:
                    for task in tasks:
                        task.cancel()


async def run_scenario(
    mosquitto: LocalMosquitto, registry: Registry, name: str, start: datetime, end: datetime
) -> simulators.SimulationStats:
    scenario = simulators.load_scenario(ROOT / "config" / "scenarios" / f"{name}.yaml")
    config = simulators.FleetRunConfig(
        mqtt_url=mosquitto.url,
        seed=42,
        interval_s=60.0,
        speed=SPEED,
        start=start,
        end=end,
        scenario=scenario,
        connections=2,
        dedicated_max=0,
        inflight_max=2_000,
        client_id_prefix=f"alerts-sim-{name}",
        connect_timeout_s=10.0,
        shutdown_timeout_s=10.0,
    )
    stats = simulators.SimulationStats()
    async with asyncio.timeout(120):
        await simulators.run_fleet(config, registry, stats=stats)
    return stats


async def settle(engine: AlertEngine, stats: simulators.SimulationStats) -> None:
    """Wait until the engine has evaluated every message the fleet published."""
    async with asyncio.timeout(60):
        while engine.evaluated < stats.messages_published:  # noqa: ASYNC110 - a counter, no event
            await asyncio.sleep(0.05)
        await engine.flush()
        await asyncio.sleep(0.5)  # the alert subscriber's last deliveries


async def test_a_cabinet_power_cut_through_broker_and_gateway_is_one_alert_on_mqtt_and_in_influx(
    make_mosquitto, influxdb, influx_database, tmp_path
):
    mosquitto = make_mosquitto()
    registry = load_registry(ROOT / "config" / "fleet.yaml")
    start, end = yesterday_at(time(2, 0)), yesterday_at(time(2, 56))
    async with platform(mosquitto, influxdb, influx_database, tmp_path, registry) as (
        engine,
        subscriber,
    ):
        stats = await run_scenario(mosquitto, registry, "cabinet-power-cut", start, end)
        await settle(engine, stats)
        active = [a for a in engine.active_alerts() if a.state.value == "firing"]
    assert subscriber.seen() == [
        ("firing", "cabinet-power-lost", "C-02"),
        ("resolved", "cabinet-power-lost", "C-02"),
    ]
    assert set(subscriber.topics) == {"city/alerts/guancheng/streetlight/cabinet-power-lost"}
    firing = subscriber.documents[0]
    assert firing["summary"] == "Cabinet C-02: 8 of 8 lights without power (100 %)"
    assert datetime.fromisoformat(firing["starts_at"]) == start + timedelta(minutes=12)
    assert active == []
    rows = influx_query(
        influxdb.url, influx_database, 'SELECT "state", "summary", "rule", "cabinet" FROM "alert"'
    )
    assert [(row["state"], row["rule"], row["cabinet"]) for row in rows] == [
        ("firing", "cabinet-power-lost", "C-02"),
        ("resolved", "cabinet-power-lost", "C-02"),
    ]


async def test_an_offline_camera_through_broker_and_gateway_is_one_alert(
    make_mosquitto, influxdb, influx_database, tmp_path
):
    mosquitto = make_mosquitto()
    registry = load_registry(ROOT / "config" / "fleet.yaml")
    start, end = yesterday_at(time(8, 50)), yesterday_at(time(9, 50))
    async with platform(mosquitto, influxdb, influx_database, tmp_path, registry) as (
        engine,
        subscriber,
    ):
        stats = await run_scenario(mosquitto, registry, "offline-camera", start, end)
        await settle(engine, stats)
    assert subscriber.seen() == [
        ("firing", "camera-offline", "CP-0003"),
        ("resolved", "camera-offline", "CP-0003"),
    ]
    fired, resolved = subscriber.documents
    assert datetime.fromisoformat(fired["starts_at"]) == start + timedelta(minutes=12)
    assert datetime.fromisoformat(resolved["ends_at"]) == start + timedelta(minutes=50)
    rows = influx_query(influxdb.url, influx_database, 'SELECT "state", "device" FROM "alert"')
    assert [(row["state"], row["device"]) for row in rows] == [
        ("firing", "CP-0003"),
        ("resolved", "CP-0003"),
    ]
