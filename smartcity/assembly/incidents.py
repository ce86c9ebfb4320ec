"""Glue between emergency command and the rest: settings → the incident service, its executors
(downlink commands on MQTT, notifications through the alert notifiers) and its annotation
recorder (timeline entries → InfluxDB points, through ``ingest.PointStore``).

```python
async with incident_service(settings, registry, mqtt_url, store) as incidents:
    async with alert_engine(settings, registry, mqtt_url, store, listeners=[incidents]):
        group.create_task(incidents.run())
```
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence

from alerts import Notifier
from command import (
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
from smartcity.assembly.engine import alert_publisher
from smartcity.security import mqtt_login, mqtt_tls
from smartcity.settings import Settings

__all__ = ["InfluxIncidentRecorder", "incident_point", "incident_service"]


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
