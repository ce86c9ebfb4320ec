"""The API on its own beside several engines (compose's gateway workers): two rule engines, each
with its own SQLite state, send to one real Alertmanager and write their changes to one real
InfluxDB; ``smartcity api``'s assembly with ``SMARTCITY_API_ALERTS_FROM=cluster`` lists both
engines' alerts and history, and an acknowledgement names who is on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from alerts import AlertEngine, AlertmanagerNotifier
from api import Scope
from ingest import DurableStore, InfluxV1Writer, Spool
from smartcity.assembly import (
    alert_listeners,
    alertmanager_config,
    alerts_config,
    build_api,
    token_store,
)
from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.settings import Settings, load_settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import (
    STORE_CONFIG,
    create_database,
    influx_config,
    spool_config,
)
from tests.unit.alerts.factory import REGISTRY, observe, rule

HOT = rule("streetlight", "{type: threshold, field: lamp_temp_c, above: 80}", name="lamp-hot")


@contextlib.asynccontextmanager
async def engine(
    settings: Settings, folder: Path, influx_url: str, database: str, alertmanager_url: str
) -> AsyncIterator[AlertEngine]:
    """One worker's engine: its own state file, its Alertmanager notifier and InfluxDB writes."""
    writer = InfluxV1Writer(influx_config(influx_url, database))
    notifier = AlertmanagerNotifier(alertmanager_config(settings, [alertmanager_url]))
    async with (
        writer,
        DurableStore(writer, Spool(spool_config(folder / "spool")), STORE_CONFIG) as store,
        notifier,
        AlertEngine(
            alerts_config(settings),
            HOT,
            REGISTRY,
            folder / "alerts.sqlite",
            listeners=alert_listeners(settings, publisher=None, store=store, notifiers=[notifier]),
        ) as running,
    ):
        yield running


async def test_the_standalone_api_lists_every_engines_alerts_and_history_and_who_acked(
    tmp_path: Path,
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    influx_database: str,
    make_alertmanager: Callable[..., LocalAlertmanager],
) -> None:
    manager = make_alertmanager()
    create_database(influxdb.url, influx_database)
    settings = load_settings(
        data_dir=tmp_path / "api",
        api_port=0,
        api_alerts_from="cluster",
        alerts_watch_rules=False,
        alertmanager_resend_interval_s=60,
        influx_database=influx_database,
        mqtt_url=mosquitto.url,
        influx_url=influxdb.url,
        alertmanager_url=manager.url,
        api_mqtt_client_id=f"cluster-api-{id(tmp_path)}",
    )
    (tmp_path / "api").mkdir()
    secret = token_store(settings).create("alice", Scope.OPERATE).secret
    headers = {"Authorization": f"Bearer {secret}"}
    service = build_api(
        settings,
        REGISTRY,
        mqtt_url=mosquitto.url,
        influx_url=influxdb.url,
        alertmanager_urls=settings.alertmanager_urls,
    )
    now = datetime.now(UTC)
    async with (
        engine(settings, tmp_path / "w0", influxdb.url, influx_database, manager.url) as first,
        engine(settings, tmp_path / "w1", influxdb.url, influx_database, manager.url) as second,
        asyncio.TaskGroup() as group,
        httpx.AsyncClient(base_url=service.server.url, headers=headers, timeout=10) as client,
    ):
        serving = group.create_task(service.run())
        # each worker's engine hears only its own device
        await first.submit([observe("SL-1", now, lamp_temp_c=95.0)])
        await second.submit([observe("SL-6", now, lamp_temp_c=99.0)])
        await first.flush()
        await second.flush()
        listed: list[Any] = []
        history: list[Any] = []

        async def read() -> None:
            listed[:] = (await client.get("/alerts")).json()
            history[:] = (await client.get("/alerts/history")).json()

        async def both_seen() -> bool:
            await read()
            return len(listed) == 2 and len(history) == 2

        async with asyncio.timeout(30):
            while not await both_seen():  # noqa: ASYNC110 - the engines send on their own
                await asyncio.sleep(0.2)
        assert [len(first.active_alerts()), len(second.active_alerts())] == [1, 1]
        by_device = {alert["labels"]["device"]: alert for alert in listed}
        assert sorted(by_device) == ["SL-1", "SL-6"]
        assert by_device["SL-6"]["rule"] == "lamp-hot"
        assert by_device["SL-6"]["value"] == 99.0
        assert by_device["SL-1"]["fingerprint"] == first.active_alerts()[0].fingerprint
        assert {(e["change"], e["labels"]["device"]) for e in history} == {
            ("firing", "SL-1"),
            ("firing", "SL-6"),
        }
        healthy = await client.get("/healthz")
        # an operator takes the alert of the second worker's engine from the one API
        target = second.active_alerts()[0].fingerprint
        ack = await client.post(f"/alerts/{target[:8]}/ack", json={"comment": "crew sent"})
        await read()
        serving.cancel()
    assert healthy.status_code == 200, healthy.text
    assert healthy.json()["dependencies"]["alert_store"]["active_alerts"] == 2
    assert ack.status_code == 200, ack.text
    assert ack.json()["by"] == "alice"
    taken = {alert["fingerprint"]: alert for alert in listed}[target]
    assert taken["acknowledged_by"] == "alice"
