"""Glue between the rule engine and the rest: settings → config, alert changes → MQTT and
InfluxDB. The one module besides tests that imports both ``alerts`` and ``ingest``.

```python
async with alert_engine(settings, registry, mqtt_url, durable_store) as engine:
    ...  # the engine, its MQTT publisher (own, reconnecting connection) and InfluxDB recorder
```
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts import (
    AckSilenceExpirer,
    AlertChange,
    AlertEngine,
    AlertmanagerAPI,
    AlertmanagerConfig,
    AlertmanagerNotifier,
    AlertOperations,
    AlertsConfig,
    MqttAlertPublisher,
    Notifier,
    load_rules,
)
from devices import PLACEMENT_TAGS, Registry, ServiceRole, parse_broker_url, ssl_context
from ingest import FieldValue, Point, PointStore
from smartcity.security import mqtt_login, mqtt_tls
from smartcity.settings import Settings

__all__ = [
    "InfluxAlertRecorder",
    "NotifierCollector",
    "alert_engine",
    "alert_listeners",
    "alert_operations",
    "alert_point",
    "alert_publisher",
    "alertmanager_config",
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


def alertmanager_config(settings: Settings, urls: Sequence[str]) -> AlertmanagerConfig:
    """How the engine sends to the Alertmanagers at ``urls``."""
    return AlertmanagerConfig(
        urls=tuple(urls),
        queue_max=settings.alertmanager_queue_max,
        batch_max=settings.alertmanager_batch_max,
        resend_interval_s=settings.alertmanager_resend_interval_s,
        timeout_s=settings.alertmanager_timeout_s,
        retry_initial_s=settings.alertmanager_retry_initial_s,
        retry_max_s=settings.alertmanager_retry_max_s,
        shutdown_timeout_s=settings.shutdown_timeout_s,
    )


def alert_operations(settings: Settings, urls: Sequence[str]) -> AlertOperations:
    """The operators' operations on the engine's state and the Alertmanagers at ``urls``
    (none: listing and history only)."""
    return AlertOperations(
        settings.alerts_state_path,
        AlertmanagerAPI(urls, timeout_s=settings.alertmanager_timeout_s) if urls else None,
        ack_silence_max=timedelta(seconds=settings.alerts_ack_silence_max_s),
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
    settings: Settings,
    mqtt_url: str,
    *,
    client_id: str | None = None,
    role: ServiceRole = ServiceRole.ENGINE,
) -> MqttAlertPublisher:
    """The MQTT publisher of alert changes (an async context manager: it owns its connection
    and reconnects after a broker restart), logged in as ``role``'s broker user over TLS when
    the platform is secured."""
    address = parse_broker_url(mqtt_url)
    login = mqtt_login(settings, mqtt_url, role)
    if login is not None:
        address = dataclasses.replace(address, username=login.username, password=login.password)
    tls = mqtt_tls(settings, mqtt_url)
    return MqttAlertPublisher(
        address,
        tls_context=ssl_context(tls) if tls is not None else None,
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
    notifiers: Sequence[Notifier] = (),
) -> list[Notifier]:
    """The engine's listeners: MQTT publishing, the InfluxDB recorder, and the notifications
    side (Alertmanager, acknowledgement silences)."""
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
    listeners.extend(notifiers)
    return listeners


class NotifierCollector(Collector):
    """The Alertmanager notifier's counters on the gateway's ``/metrics``, per Alertmanager."""

    def __init__(self, notifier: AlertmanagerNotifier) -> None:
        self._notifier = notifier

    def collect(self) -> Iterator[Metric]:
        """One sample per Alertmanager URL of each figure."""
        counters = {
            "sent": CounterMetricFamily(
                "smartcity_alertmanager_alerts_sent", "Alerts Alertmanager accepted", labels=["url"]
            ),
            "errored": CounterMetricFamily(
                "smartcity_alertmanager_sends_errored",
                "Sends that failed (retried: a delay, not a loss)",
                labels=["url"],
            ),
            "dropped": CounterMetricFamily(
                "smartcity_alertmanager_alerts_dropped",
                "Alerts dropped from a full queue or refused",
                labels=["url"],
            ),
        }
        gauges = {
            "queued": GaugeMetricFamily(
                "smartcity_alertmanager_alerts_queued", "Alerts waiting to be sent", labels=["url"]
            ),
            "up": GaugeMetricFamily(
                "smartcity_alertmanager_up", "1 while the last send succeeded", labels=["url"]
            ),
        }
        for stats in self._notifier.stats():
            counters["sent"].add_metric([stats.url], stats.sent)
            counters["errored"].add_metric([stats.url], stats.errored)
            counters["dropped"].add_metric([stats.url], stats.dropped)
            gauges["queued"].add_metric([stats.url], stats.queued)
            gauges["up"].add_metric([stats.url], 1.0 if stats.up else 0.0)
        yield from counters.values()
        yield from gauges.values()


@contextlib.asynccontextmanager
async def alert_engine(
    settings: Settings,
    registry: Registry,
    mqtt_url: str,
    store: PointStore | None,
    *,
    client_id: str | None = None,
    notifier: AlertmanagerNotifier | None = None,
    listeners: Sequence[Notifier] = (),
) -> AsyncIterator[AlertEngine]:
    """The rule engine with its rules, its state file and its listeners (alerts published on
    MQTT through their own connection, ``client_id``, recorded through ``store``, sent to
    Alertmanager through ``notifier``, which the caller runs, and any ``listeners`` more, such
    as the incident service), entered and left. ``registry`` is the devices it judges: a
    gateway worker's engine judges its own.

    With a notifier, the engine's firing alerts are sent at once after a restart, and
    acknowledgement silences are expired once their alert is no longer active."""
    rules = load_rules(settings.rules_path)
    async with alert_publisher(settings, mqtt_url, client_id=client_id) as publisher:
        engine: AlertEngine
        expirer = (
            AckSilenceExpirer(
                AlertmanagerAPI(notifier.config.urls, timeout_s=settings.alertmanager_timeout_s),
                lambda: [alert.fingerprint for alert in engine.active_alerts()],
                interval_s=settings.alertmanager_resend_interval_s,
            )
            if notifier is not None
            else None
        )
        engine = AlertEngine(
            alerts_config(settings),
            rules,
            registry,
            settings.alerts_state_path,
            listeners=[
                *alert_listeners(
                    settings,
                    publisher=publisher,
                    store=store,
                    notifiers=[item for item in (notifier, expirer) if item is not None],
                ),
                *listeners,
            ],
        )
        async with engine, contextlib.AsyncExitStack() as stack:
            if notifier is not None and expirer is not None:
                # after a restart, Alertmanager hears of what still fires at once
                notifier.track(engine.active_alerts())
                await stack.enter_async_context(expirer)
            yield engine
