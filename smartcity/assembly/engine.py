"""Glue between the rule engine and the rest: settings → config, alert changes → MQTT and
InfluxDB. The one module besides tests that imports both ``alerts`` and ``ingest``.

```python
engine = AlertEngine(
    alerts_config(settings), load_rules(settings.rules_path), registry,
    settings.alerts_state_path,
    listeners=alert_listeners(settings, mqtt_client=client, store=durable_store),
)
```
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiomqtt

from alerts import (
    AlertChange,
    AlertEngine,
    AlertsConfig,
    MqttAlertPublisher,
    Notifier,
    load_rules,
)
from devices import PLACEMENT_TAGS, Registry, parse_broker_url
from ingest import FieldValue, Point, PointStore
from smartcity.settings import Settings

__all__ = [
    "InfluxAlertRecorder",
    "alert_engine",
    "alert_listeners",
    "alert_point",
    "alerts_config",
]


def alerts_config(settings: Settings) -> AlertsConfig:
    """The engine's config from the platform settings."""
    return AlertsConfig(
        queue_max=settings.alerts_queue_max,
        tick_interval_s=settings.alerts_tick_interval_s,
        max_clock_skew_s=settings.alerts_max_clock_skew_s,
        notify_timeout_s=settings.alerts_notify_timeout_s,
        shutdown_timeout_s=settings.shutdown_timeout_s,
        rules_path=settings.rules_path,
        watch_rules=settings.alerts_watch_rules,
        event_time=settings.alerts_event_time,
    )


def alert_point(change: AlertChange, measurement: str) -> Point:
    """One point per change, for dashboards and Grafana annotations.

    Tags are what a panel filters on (rule, district, kind, severity, change, fingerprint);
    the summary is the annotation's text. The fingerprint tag grows with the number of distinct
    alerts, not readings: bounded by rules × devices.
    """
    alert = change.alert
    tags = {
        "change": change.change.value,
        "district": alert.district,
        "fingerprint": alert.fingerprint,
        "kind": alert.kind.value,
        "rule": alert.rule,
        "severity": alert.severity,
    }
    for name in ("device", *PLACEMENT_TAGS):
        value = alert.labels.get(name)
        if value:
            tags[name] = value
    fields: dict[str, FieldValue] = {
        "state": alert.state.value,
        "summary": alert.summary,
        "silenced": change.silenced,
    }
    if alert.value is not None:
        fields["value"] = float(alert.value)
    if alert.acknowledged_by:
        fields["acknowledged_by"] = alert.acknowledged_by
    seconds = change.at.timestamp()
    return Point(
        measurement=measurement,
        tags=tuple(sorted(tags.items())),
        fields=tuple(sorted(fields.items())),
        time_ns=int(seconds * 1_000_000) * 1000,
    )


class InfluxAlertRecorder:
    """A ``Notifier`` that stores each change as a point through ingest (written or spooled)."""

    def __init__(self, store: PointStore, *, measurement: str) -> None:
        self._store = store
        self._measurement = measurement

    async def notify(self, change: AlertChange) -> None:
        """Store one change's point."""
        await self._store.store([alert_point(change, self._measurement)])


def alert_listeners(
    settings: Settings,
    *,
    mqtt_client: aiomqtt.Client | None,
    store: PointStore | None,
    notifier: Notifier | None = None,
) -> list[Notifier]:
    """The engine's listeners: MQTT publishing, the InfluxDB recorder, and the notifications
    side (a later issue) when there is one."""
    listeners: list[Notifier] = []
    if mqtt_client is not None:
        listeners.append(
            MqttAlertPublisher(
                mqtt_client,
                qos=settings.alerts_publish_qos,
                timeout_s=settings.alerts_notify_timeout_s,
            )
        )
    if store is not None:
        listeners.append(InfluxAlertRecorder(store, measurement=settings.alerts_influx_measurement))
    if notifier is not None:
        listeners.append(notifier)
    return listeners


@contextlib.asynccontextmanager
async def alert_engine(
    settings: Settings,
    registry: Registry,
    mqtt_url: str,
    store: PointStore | None,
    *,
    client_id: str | None = None,
) -> AsyncIterator[AlertEngine]:
    """The rule engine with its rules, its state file and its listeners (alerts published on
    MQTT through their own connection, ``client_id``, recorded through ``store``), entered and
    left. ``registry`` is the devices it judges: a gateway worker's engine judges its own."""
    rules = load_rules(settings.rules_path)
    endpoint = parse_broker_url(mqtt_url)
    async with aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        identifier=client_id or f"{settings.gateway_client_id}-alerts",
        timeout=settings.alerts_notify_timeout_s,
    ) as client:
        engine = AlertEngine(
            alerts_config(settings),
            rules,
            registry,
            settings.alerts_state_path,
            listeners=alert_listeners(settings, mqtt_client=client, store=store),
        )
        async with engine:
            yield engine
