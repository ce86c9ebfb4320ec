"""Glue between emergency command and the rest: settings → the incident service, its executors
(downlink commands on MQTT, notifications through the alert notifiers) and its annotation
recorder (timeline entries → InfluxDB points, through ``ingest.PointStore``).

```python
async with incident_service(settings, registry, mqtt_url, store) as incidents:
    async with alert_engine(settings, registry, mqtt_url, store, listeners=[incidents]):
        group.create_task(incidents.run())
# where the engines run elsewhere (gateway workers): fed from their changes on MQTT
async with incident_host(settings, registry, mqtt_url, influx_url=...) as host:
    group.create_task(host.run())          # host.service for the API
```
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from alerts import AlertmanagerNotifier, Notifier
from command import (
    AlertFeed,
    AlertFeedConfig,
    AlertNotificationSender,
    IncidentService,
    IncidentStore,
    MqttCommandSender,
    TimelineRow,
    load_incident_rules,
    load_plans,
)
from devices import Registry, ServiceRole, parse_broker_url, ssl_context
from ingest import FieldValue, Point, PointStore
from smartcity.assembly.engine import alert_publisher, alertmanager_config
from smartcity.assembly.gateway import durable_store
from smartcity.security import mqtt_login, mqtt_tls
from smartcity.settings import Settings

__all__ = [
    "IncidentHost",
    "InfluxIncidentRecorder",
    "alert_feed",
    "incident_host",
    "incident_point",
    "incident_service",
]


def incident_point(row: TimelineRow, measurement: str) -> Point:
    """One point per timeline entry: a Grafana annotation (its text) that panels filter by
    incident, type, kind of entry, severity and district. The incident tag grows with the
    number of incidents, not with readings."""
    entry = row.entry
    tags = {
        "district": row.district,
        "entry": entry.kind.value,
        "incident": str(row.incident_id),
        "severity": row.severity,
        "type": row.incident_type,
    }
    fields: dict[str, FieldValue] = {"text": entry.text, "actor": entry.actor, "id": entry.id}
    # microsecond time plus the entry id's last digits: two entries in one microsecond stay two
    time_ns = int(entry.at.timestamp() * 1_000_000) * 1000 + entry.id % 1000
    return Point(
        measurement=measurement,
        tags=tuple(sorted(tags.items())),
        fields=tuple(sorted(fields.items())),
        time_ns=time_ns,
    )


class InfluxIncidentRecorder:
    """The incident service's ``AnnotationSink``: timeline entries stored as points."""

    def __init__(self, store: PointStore, *, measurement: str) -> None:
        self._store = store
        self._measurement = measurement

    async def record(self, rows: Sequence[TimelineRow]) -> None:
        """Store a batch of entries (written, or spooled when InfluxDB is away)."""
        await self._store.store([incident_point(row, self._measurement) for row in rows])


@contextlib.asynccontextmanager
async def incident_service(
    settings: Settings,
    registry: Registry,
    mqtt_url: str,
    store: PointStore | None,
    *,
    client_id: str | None = None,
    notifiers: Sequence[Notifier] = (),
) -> AsyncIterator[IncidentService]:
    """The incident service on its SQLite file, with its plans and rules; notifications go out
    as alerts (rule ``incident-notification``) on MQTT (``city/alerts/...``) and to
    ``notifiers`` (the Alertmanager notifier, whose routes take them to the team's receivers),
    commands on each device's ``cmd`` topic, timeline entries to ``store``."""
    plans = load_plans(settings.plans_path)
    rules = load_incident_rules(settings.incidents_rules_path, plans)
    login = mqtt_login(settings, mqtt_url, ServiceRole.COMMAND)
    endpoint = parse_broker_url(mqtt_url)
    if login is not None:
        endpoint = dataclasses.replace(endpoint, username=login.username, password=login.password)
    tls = mqtt_tls(settings, mqtt_url)
    tls_context = ssl_context(tls) if tls is not None else None
    name = client_id or f"{settings.gateway_client_id}-incidents"
    # the publisher owns its connection and reconnects after a broker restart
    async with alert_publisher(
        settings, mqtt_url, client_id=name, role=ServiceRole.COMMAND
    ) as publisher:
        with IncidentStore(settings.incidents_state_path) as incidents:
            yield IncidentService(
                incidents,
                plans,
                rules,
                registry,
                notifications=AlertNotificationSender([publisher, *notifiers]),
                commands=MqttCommandSender(
                    endpoint, client_id=f"{name}-cmd", tls_context=tls_context
                ),
                annotations=InfluxIncidentRecorder(
                    store, measurement=settings.incidents_influx_measurement
                )
                if store is not None
                else None,
                tick_interval_s=settings.incidents_tick_interval_s,
                event_time=settings.alerts_event_time,
            )


def alert_feed(
    settings: Settings, mqtt_url: str, listener: Notifier, *, client_id: str | None = None
) -> AlertFeed:
    """Every engine's alert changes from the broker (``city/alerts/#``) to ``listener``, as
    emergency command's own broker user (``platform.command``, which may read them)."""
    endpoint = parse_broker_url(mqtt_url)
    login = mqtt_login(settings, mqtt_url, ServiceRole.COMMAND)
    tls = mqtt_tls(settings, mqtt_url)
    return AlertFeed(
        AlertFeedConfig(
            host=endpoint.host,
            port=endpoint.port,
            username=login.username if login else None,
            password=login.password if login else None,
            client_id=client_id or f"{settings.gateway_client_id}-incidents-feed",
            keepalive_s=settings.gateway_keepalive_s,
            timeout_s=settings.alerts_notify_timeout_s,
            retry_initial_s=settings.ingest_retry_initial_s,
            retry_max_s=settings.ingest_retry_max_s,
            tls_context=ssl_context(tls) if tls is not None else None,
        ),
        listener,
    )


@dataclass(frozen=True, slots=True)
class IncidentHost:
    """The platform's one incident service with its feed; ``await run()`` until cancelled."""

    service: IncidentService
    feed: AlertFeed

    async def run(self) -> None:
        """The service's ticker and the feed, in one TaskGroup."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.service.run(), name="incidents")
            group.create_task(self.feed.run(), name="incidents-feed")


@contextlib.asynccontextmanager
async def incident_host(
    settings: Settings,
    registry: Registry,
    mqtt_url: str,
    *,
    influx_url: str | None,
    alertmanager_urls: Sequence[str] = (),
) -> AsyncIterator[IncidentHost]:
    """The incident service where no engine runs beside it (``smartcity api`` with
    ``SMARTCITY_API_INCIDENTS``): fed from MQTT, its notifications to the Alertmanagers, its
    timeline to InfluxDB (spooled when away) when they are configured."""
    async with contextlib.AsyncExitStack() as stack:
        store = (
            await stack.enter_async_context(durable_store(settings, influx_url))
            if influx_url is not None
            else None
        )
        notifiers: list[Notifier] = []
        if alertmanager_urls:
            notifiers.append(
                await stack.enter_async_context(
                    AlertmanagerNotifier(alertmanager_config(settings, alertmanager_urls))
                )
            )
        service = await stack.enter_async_context(
            incident_service(settings, registry, mqtt_url, store, notifiers=notifiers)
        )
        yield IncidentHost(service, alert_feed(settings, mqtt_url, service))
