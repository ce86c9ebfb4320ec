"""Glue between the rule engine and the rest: settings → config, alert changes → MQTT and
InfluxDB. The one module besides tests that imports both ``alerts`` and ``ingest``.

```python
async with alert_engine(settings, registry, mqtt_url, durable_store) as engine:
    ...  # the engine, its MQTT publisher (own, reconnecting connection) and InfluxDB recorder
```
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

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
    "alert_publisher",
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
        reannounce_interval_s=settings.alerts_reannounce_interval_s,
        listener_queue_max=settings.alerts_listener_queue_max,
        retry_min_s=settings.alerts_retry_min_s,
        retry_max_s=settings.alerts_retry_max_s,
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
    """A ``Notifier`` that stores each change as a point through ingest (written or spooled).

    ``notify_timeout_s`` tells the engine to give it longer than other listeners: the store
    waits up to the InfluxDB write timeout before it spools, and a recorder cancelled before
    then would lose the point instead of spooling it.
    """

    def __init__(self, store: PointStore, *, measurement: str, notify_timeout_s: float) -> None:
        self._store = store
        self._measurement = measurement
        self.notify_timeout_s = notify_timeout_s

    async def notify(self, change: AlertChange) -> None:
        """Store one change's point."""
        await self._store.store([alert_point(change, self._measurement)])


def alert_publisher(
    settings: Settings, mqtt_url: str, *, client_id: str | None = None
) -> MqttAlertPublisher:
    """The MQTT publisher of alert changes (an async context manager: it owns its connection
    and reconnects after a broker restart)."""
    return MqttAlertPublisher(
        parse_broker_url(mqtt_url),
        identifier=client_id or f"{settings.gateway_client_id}-alerts",
        qos=settings.alerts_publish_qos,
        timeout_s=settings.alerts_notify_timeout_s,
        reconnect_min_s=settings.alerts_retry_min_s,
        reconnect_max_s=settings.alerts_retry_max_s,
    )


def alert_listeners(
    settings: Settings,
    *,
    publisher: Notifier | None,
    store: PointStore | None,
    notifier: Notifier | None = None,
) -> list[Notifier]:
    """The engine's listeners: MQTT publishing, the InfluxDB recorder, and the notifications
    side (a later issue) when there is one."""
    listeners: list[Notifier] = []
    if publisher is not None:
        listeners.append(publisher)
    if store is not None:
        listeners.append(
            InfluxAlertRecorder(
                store,
                measurement=settings.alerts_influx_measurement,
                # the write may take its whole timeout before the store spools the point
                notify_timeout_s=settings.influx_timeout_s + settings.alerts_notify_timeout_s,
            )
        )
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
    async with alert_publisher(settings, mqtt_url, client_id=client_id) as publisher:
        engine = AlertEngine(
            alerts_config(settings),
            rules,
            registry,
            settings.alerts_state_path,
            listeners=alert_listeners(settings, publisher=publisher, store=store),
        )
        async with engine:
            yield engine
