"""The operators' API assembled as the platform does, against the real Mosquitto (and InfluxDB):
its MQTT link, command desk, audit, alert store and tokens in a temporary folder."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from fastapi import APIRouter, FastAPI
from paho.mqtt.enums import CallbackAPIVersion

import alerts
import api
import devices
import simulators

ROOT = Path(__file__).resolve().parents[2]
_ids = itertools.count(1)


def demo_registry() -> devices.Registry:
    """The shipped demo city (59 devices)."""
    return simulators.generate_registry(
        simulators.load_fleet_spec(ROOT / "config/fleets/demo.yaml")
    )


@dataclass
class Harness:
    """A running API's parts and one token per scope."""

    app: FastAPI
    tokens: api.TokenStore
    audit: api.CommandAudit
    alert_store: alerts.AlertStore
    link: api.MqttLink
    desk: api.CommandDesk
    secrets: dict[str, str] = field(default_factory=dict)

    def headers(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[scope]}"}

    def client(self) -> httpx.AsyncClient:
        """httpx straight into the app (no server: it adds nothing to these checks)."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://api.test")


@contextlib.asynccontextmanager
async def running_api(
    tmp_path: Path,
    mqtt_url: str,
    registry: devices.Registry,
    *,
    influx_url: str | None = None,
    command_timeout_s: float = 10.0,
    max_failures: int = 5,
    client_id: str | None = None,
    routers: Sequence[APIRouter] = (),
    alertmanager_url: str | None = None,
) -> AsyncIterator[Harness]:
    """The API with its link connected and its desk sweeping; stopped on the way out."""
    endpoint = devices.parse_broker_url(mqtt_url)
    link = api.MqttLink(
        api.MqttLinkConfig(
            host=endpoint.host,
            port=endpoint.port,
            username=None,
            password=None,
            client_id=client_id or f"test-api-{next(_ids)}-{id(tmp_path)}",
            keepalive_s=30,
            timeout_s=5.0,
            retry_initial_s=0.1,
            retry_max_s=1.0,
            tls_context=None,
        )
    )
    audit = api.CommandAudit(tmp_path / "commands.sqlite")
    desk = api.CommandDesk(audit, link, timeout_s=command_timeout_s, sweep_interval_s=0.1)
    presence = api.StatusPresence(registry)
    link.on(devices.Channel.CMD_RESULT, desk.on_result)
    link.on(devices.Channel.STATUS, presence.on_status)
    alert_store = alerts.AlertStore(tmp_path / "alerts.sqlite")
    tokens = api.TokenStore(tmp_path / "api-tokens.json")
    checks: list[api.HealthCheck] = [link, api.AlertStoreCheck(alert_store, timeout_s=2)]
    if influx_url is not None:
        checks.append(api.InfluxPing(influx_url, timeout_s=2))
    app = api.create_app(
        registry=registry,
        alerts_store=alert_store,
        presence=presence,
        commands_desk=desk,
        token_store=tokens,
        limiter=api.FailedAttempts(max_failures=max_failures, window_s=60),
        health_checks=checks,
        routers=routers,
        alert_operations=alerts.AlertOperations(
            tmp_path / "alerts.sqlite",
            alerts.AlertmanagerAPI([alertmanager_url], timeout_s=5),
            ack_silence_max=timedelta(days=7),
        )
        if alertmanager_url
        else None,
    )
    harness = Harness(app, tokens, audit, alert_store, link, desk)
    for scope in api.Scope:
        name = f"{scope.value}-user"
        with contextlib.suppress(api.TokenNotFound):  # a second run on the same folder
            tokens.revoke(name)
        harness.secrets[scope.value] = tokens.create(name, scope).secret
    tasks = [asyncio.create_task(link.run()), asyncio.create_task(desk.run())]
    try:
        async with asyncio.timeout(10):
            await link.ready.wait()
        yield harness
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        audit.close()
        alert_store.close()


class CommandProbe:
    """A subscriber on every device's ``cmd`` topic: what the API really published."""

    def __init__(self, url: str) -> None:
        endpoint = devices.parse_broker_url(url)
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{next(_ids)}")
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(
            devices.device_subscription(channel=devices.Channel.CMD), qos=1
        )
        self.client.on_subscribe = lambda c, u, m, r, p: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()
        assert ready.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def topics(self) -> list[str]:
        with self._lock:
            return [topic for topic, _ in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def alert(
    rule: str,
    *,
    kind: devices.Kind,
    district: str,
    severity: str,
    device: str,
    state: alerts.AlertState = alerts.AlertState.FIRING,
    fired_at: datetime,
) -> alerts.Alert:
    """An alert as the engine would hold it."""
    labels = {"device": device, "district": district}
    return alerts.Alert(
        fingerprint=alerts.fingerprint(rule, labels),
        rule=rule,
        kind=kind,
        district=district,
        severity=severity,
        labels=labels,
        state=state,
        active_since=fired_at - timedelta(minutes=5),
        fired_at=fired_at,
        resolved_at=fired_at + timedelta(minutes=30)
        if state is alerts.AlertState.RESOLVED
        else None,
        value=1.0,
        summary=f"{rule} on {device}",
        runbook="",
    )


def record_changes(
    store: alerts.AlertStore, changes: Sequence[tuple[alerts.Alert, alerts.ChangeKind]]
) -> None:
    """Write alerts and their announced changes as the engine does."""
    store.record([alerts.Transition(alert, change) for alert, change in changes])


NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
