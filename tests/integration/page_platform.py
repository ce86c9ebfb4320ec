"""A real platform for the page's browser tests: Mosquitto and InfluxDB (the session's), an
Alertmanager (the test's), the gateway, the rule engine sending to Alertmanager, the incident
service listening to it and the API assembled by ``smartcity.assembly`` as ``smartcity up`` does,
and the simulated demo city on the broker; one operate token. The test's ammonia rule opens a
spill incident (the shipped ``pollution-spill`` plan) for a station above the river's intake."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import alerts
import api
import devices
import simulators
from gateway import Gateway
from smartcity.assembly import (
    alert_engine,
    alertmanager_config,
    build_api,
    durable_store,
    gateway_config,
    incident_service,
    token_store,
)
from smartcity.settings import load_settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.api_harness import ROOT, demo_registry
from tests.support import until

__all__ = ["AMMONIA_RULE", "FLOODING_STEP", "INCIDENT_TITLE", "Platform", "running_platform"]

REGISTRY = demo_registry()
# stations the test speaks for itself; the simulators play every other device
OWN_STATIONS = ("WQ-0001", "WQ-0002")
AMMONIA_RULE = "ammonia-high"
# one rule with no `for:`, so one reading fires it: the test waits for the page, not a timer
RULES = f"""
rules:
  - name: {AMMONIA_RULE}
    kind: water_quality
    severity: critical
    condition: {{type: threshold, field: ammonia_mg_l, above: 2.0}}
    summary: "Station {{device}}: ammonia {{value:.1f}} mg/L"
    runbook: https://runbooks.smartcity.example/water/ammonia-high
"""
# the shipped water-pollution opener, for the test's rule; the river as config/incidents.yaml has it
INCIDENT_TITLE = "Pollution on zhongtang-waterway"
INCIDENT_RULES = f"""
openers:
  - name: water-pollution
    rules: [{AMMONIA_RULE}]
    upstream_of_intake: true
    type: environmental
    group_by: [river]
    plan: pollution-spill
    title: "Pollution on {{river}}"
    forecast: spill
intakes:
  - name: zhongtang-waterworks-intake
    river: zhongtang-waterway
    section: S4
    km_below_section: 0.7
spill_margin: 30m
rivers:
  - name: zhongtang-waterway
    flow_m_s: 0.4
    sections:
""" + "".join(f"      - {{name: S{n}, length_km: 1.44}}\n" for n in range(1, 6))
# beside the shipped plans, one for incidents opened by hand whose only step is due at once:
# the page shows it overdue, and the platform escalates it
FLOODING_STEP = "Close the underpass to traffic"
FLOODING_PLAN = f"""
name: underpass-flooding
version: 1
incident_type: flooding
title: Flooded underpass
steps:
  - id: close-underpass
    title: {FLOODING_STEP}
    do: person
    role: traffic police
    within: 1s
"""
_ids = itertools.count(1)


@dataclass
class Platform:
    url: str
    token: str
    settings_tokens: api.TokenStore
    mqtt_port: int
    seq: itertools.count[int]

    def publish_station(self, device_id: str, ammonia_mg_l: float, *, minutes_ago: float) -> None:
        """One reading of one of the test's own stations, QoS 1, as the device would send it."""
        device = REGISTRY[device_id]
        topic = devices.Topic(
            device.district, devices.Kind.WATER_QUALITY, device_id, devices.Channel.TELEMETRY
        )
        payload = {
            "ts": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
            "seq": next(self.seq),
            "water_temp_c": 18.0,
            "ph": 7.4,
            "dissolved_oxygen_mg_l": 7.0,
            "permanganate_index_mg_l": 3.5,
            "ammonia_mg_l": ammonia_mg_l,
            "total_phosphorus_mg_l": 0.08,
            "turbidity_ntu": 12.0,
            "conductivity_us_cm": 420.0,
        }
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"page-{device_id}-{next(_ids)}"
        )
        client.connect("127.0.0.1", self.mqtt_port)
        client.loop_start()
        try:
            client.publish(str(topic), json.dumps(payload), qos=1).wait_for_publish(10)
        finally:
            client.disconnect()
            client.loop_stop()


@contextlib.asynccontextmanager
async def running_platform(
    tmp_path: Path,
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    database: str,
    alertmanager_url: str,
) -> AsyncIterator[Platform]:
    """The platform, up with its city online; stopped on the way out."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "page.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "incidents.yaml").write_text(INCIDENT_RULES, encoding="utf-8")
    plans = tmp_path / "plans"
    plans.mkdir()
    for shipped in (ROOT / "config" / "plans").glob("*.yaml"):
        shutil.copy(shipped, plans / shipped.name)
    (plans / "underpass-flooding.yaml").write_text(FLOODING_PLAN, encoding="utf-8")
    tag = f"{id(tmp_path)}-{next(_ids)}"
    settings = load_settings(
        data_dir=tmp_path,
        mqtt_url=mosquitto.url,
        influx_url=influxdb.url,
        influx_database=database,
        alertmanager_url=alertmanager_url,
        alertmanager_resend_interval_s=5.0,
        rules_path=rules,
        alerts_watch_rules=False,
        alerts_tick_interval_s=0.2,
        plans_path=plans,
        incidents_rules_path=tmp_path / "incidents.yaml",
        incidents_tick_interval_s=0.2,
        api_port=0,
        api_events_interval_s=0.2,
        api_mqtt_client_id=f"page-api-{tag}",
        gateway_client_id=f"page-gw-{tag}",
        metrics_port=None,
    )
    token = token_store(settings).create("ops", api.Scope.OPERATE).secret
    simulated = devices.Registry.from_records(
        [REGISTRY[i] for i in REGISTRY if i not in OWN_STATIONS], city=REGISTRY.city
    )
    fleet = simulators.FleetRunConfig(
        mqtt_url=mosquitto.url,
        seed=5,
        interval_s=2.0,
        speed=1.0,
        start=None,
        end=None,
        scenario=None,
        connections=2,
        dedicated_max=5,
        inflight_max=2_000,
        client_id_prefix=f"sim-page-{tag}",
        connect_timeout_s=10,
        shutdown_timeout_s=5,
    )
    config = gateway_config(settings, mosquitto.url, worker_index=0, worker_count=1)
    async with (
        durable_store(settings, influxdb.url) as store,
        alerts.AlertmanagerNotifier(
            alertmanager_config(settings, settings.alertmanager_urls)
        ) as notifier,
        incident_service(
            settings,
            REGISTRY,
            mosquitto.url,
            store,
            client_id=f"page-incidents-{tag}",
            notifiers=[notifier],
        ) as incidents,
        alert_engine(
            settings,
            REGISTRY,
            mosquitto.url,
            store,
            client_id=f"page-alerts-{tag}",
            notifier=notifier,
            listeners=[incidents],
        ) as engine,
    ):
        gateway = Gateway(config, REGISTRY, store, sink=engine)
        tasks = [asyncio.create_task(gateway.run()), asyncio.create_task(incidents.run())]
        try:
            async with asyncio.timeout(30):
                await gateway.ready.wait()
            service = build_api(
                settings,
                REGISTRY,
                mqtt_url=mosquitto.url,
                influx_url=influxdb.url,
                alertmanager_urls=settings.alertmanager_urls,
                gateway=gateway,
                incidents=incidents,
            )
            tasks.append(asyncio.create_task(service.run()))
            stats = simulators.SimulationStats()
            tasks.append(asyncio.create_task(simulators.run_fleet(fleet, simulated, stats=stats)))
            async with asyncio.timeout(30):
                await service.server.started.wait()
            assert await until(lambda: stats.devices_online == len(simulated), timeout_s=20)
            yield Platform(
                url=service.server.url,
                token=token,
                settings_tokens=token_store(settings),
                mqtt_port=mosquitto.port,
                seq=itertools.count(1),
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
