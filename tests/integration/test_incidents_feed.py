"""The incident service of compose: ``smartcity api`` with ``SMARTCITY_API_INCIDENTS`` hosts it
(``incident_host``), fed with the alert changes two gateway workers' engines publish on a real,
secured Mosquitto (TLS, passwords, the generated ACLs). Both engines see the same cabinet go
dark at once: one incident opens, the other alert joins it; what is not an alert change, and
the service's own notifications coming back, open nothing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import alerts
import api
from devices import DeviceRecord, Kind, Registry
from smartcity.assembly import alert_publisher, build_api, incident_host, token_store
from smartcity.security import broker_security
from smartcity.settings import Settings, load_settings
from smartcity.stack import LocalMosquitto
from tests.integration.api_harness import ROOT
from tests.support import until

pytestmark = pytest.mark.timeout(120)

DISTRICT = "harbour"
REGISTRY = Registry.from_records(
    [
        DeviceRecord(id=f"SL-{n}", kind=Kind.STREETLIGHT, district=DISTRICT, cabinet="C-07")
        for n in range(4)
    ]
)
_ids = itertools.count(1)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[Settings, LocalMosquitto]]:
    settings = load_settings(
        data_dir=tmp_path,
        insecure=False,
        plans_path=ROOT / "config" / "plans",
        incidents_rules_path=ROOT / "config" / "incidents.yaml",
        incidents_tick_interval_s=0.2,
        api_port=0,
        api_incidents=True,
        metrics_port=None,
        gateway_client_id=f"feed-test-{next(_ids)}",
        api_mqtt_client_id=f"feed-api-{next(_ids)}",
    )
    broker = LocalMosquitto(tmp_path / "mosquitto", security=broker_security(settings, REGISTRY))
    with broker:
        yield settings, broker


def cabinet_change(
    rule: str, change: alerts.ChangeKind, at: datetime, *, reannounced: bool = False
) -> alerts.AlertChange:
    """A cabinet alert as a worker's engine announces it (a group alert: no device label)."""
    labels = {"cabinet": "C-07", "district": DISTRICT, "team": "lighting"}
    resolved = change is alerts.ChangeKind.RESOLVED
    alert = alerts.Alert(
        fingerprint=alerts.fingerprint(rule, labels),
        rule=rule,
        kind=Kind.STREETLIGHT,
        district=DISTRICT,
        severity="critical",
        labels=labels,
        state=alerts.AlertState.RESOLVED if resolved else alerts.AlertState.FIRING,
        active_since=at - timedelta(minutes=2),
        fired_at=at,
        resolved_at=at if resolved else None,
        value=100.0,
        summary=f"{rule}: cabinet C-07",
        runbook="",
    )
    return alerts.AlertChange(alert, change, at, reannounced)


async def test_two_workers_engines_announcing_one_dark_cabinet_open_one_incident(
    secured: tuple[Settings, LocalMosquitto],
) -> None:
    settings, broker = secured
    token = token_store(settings).create("duty", api.Scope.READ).secret
    now = datetime.now(UTC)
    power = cabinet_change("cabinet-power-lost", alerts.ChangeKind.FIRING, now)
    dark = cabinet_change("cabinet-dark-at-night", alerts.ChangeKind.FIRING, now)
    async with (
        incident_host(settings, REGISTRY, broker.url, influx_url=None) as host,
        alert_publisher(settings, broker.url, client_id=f"{settings.gateway_client_id}-w0") as w0,
        alert_publisher(settings, broker.url, client_id=f"{settings.gateway_client_id}-w1") as w1,
    ):
        service = build_api(
            settings, REGISTRY, mqtt_url=broker.url, influx_url=None, incidents=host.service
        )
        tasks = [asyncio.create_task(host.run()), asyncio.create_task(service.run())]
        try:
            async with asyncio.timeout(20):
                await host.feed.ready.wait()
                await service.server.started.wait()
            # the same cabinet, seen at once by both workers' engines, and said again
            await asyncio.gather(w0.notify(power), w1.notify(power), w1.notify(dark))
            await w0.notify(
                cabinet_change(
                    "cabinet-power-lost", alerts.ChangeKind.FIRING, now, reannounced=True
                )
            )
            await w0.publish("city/alerts/harbour/streetlight/cabinet-power-lost", b"{not json")
            assert await until(lambda: host.feed.received >= 4 and host.feed.invalid == 1)
            later = now + timedelta(minutes=20)
            await w1.notify(cabinet_change("cabinet-power-lost", alerts.ChangeKind.RESOLVED, later))
            assert await until(lambda: host.feed.received >= 5, timeout_s=10)
            # the plan's notification went out on city/alerts/... too, and came back: skipped
            assert await until(
                lambda: any(
                    s.step_id == "notify-lighting-crew" and s.status.value == "done"
                    for i in host.service.list_incidents()
                    for s in i.steps
                ),
                timeout_s=20,
            )
            async with httpx.AsyncClient(base_url=service.server.url, timeout=10) as client:
                headers = {"Authorization": f"Bearer {token}"}
                listed = (await client.get("/incidents", headers=headers)).json()
                shown = (await client.get(f"/incidents/{listed[0]['id']}", headers=headers)).json()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    assert len(listed) == 1
    assert (shown["type"], shown["plan"], shown["placement"]) == (
        "lighting",
        "cabinet-power-cut@1",
        {"cabinet": "C-07"},
    )
    assert sorted(shown["alerts"]) == sorted([power.alert.fingerprint, dark.alert.fingerprint])
    alert_entries = [e["text"] for e in shown["timeline"] if e["kind"] == "alert"]
    assert len(alert_entries) == 3  # opened by one, joined by the other, then its resolution
    assert any("resolved" in text for text in alert_entries)
    assert host.feed.failed == 0
    assert host.feed.own >= 1  # its notifications came back on city/alerts/..., and opened nothing
