"""What the API reads from and writes to, declared once as protocols with the values they pass.

The platform hands ``create_app`` objects that fit these: the engine's ``alerts.AlertStore``,
the gateway's presence (adapted in the front door) or ``StatusPresence`` when the API runs on its
own, ``MqttLink`` as the command publisher, and health checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from alerts import AlertSource

__all__ = [
    "AlertReader",
    "CommandPublisher",
    "DependencyHealth",
    "DevicePresence",
    "HealthCheck",
    "PresenceSource",
]


@dataclass(frozen=True, slots=True)
class DevicePresence:
    """Whether a device is online (``None``: not heard of yet) and when it was last heard."""

    online: bool | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class DependencyHealth:
    """One dependency's state for ``/healthz``: up or not, and a few figures."""

    name: str
    ok: bool
    detail: Mapping[str, object] = field(default_factory=dict)


AlertReader = AlertSource
"""The engine's alert state (``alerts.AlertStore``), or every engine's through Alertmanager and
InfluxDB (the platform's ``ClusterAlertReader``): the alerts room's ``AlertSource``."""


class PresenceSource(Protocol):
    """Where devices' presence comes from: the gateway's tracker, or status messages."""

    def presence(self) -> Mapping[str, DevicePresence]:
        """Every device heard of, by id."""
        ...


class CommandPublisher(Protocol):
    """Puts a command on the broker (QoS 1); returns once the broker has it, or raises
    ``CommandNotDelivered``."""

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish one command."""
        ...


class HealthCheck(Protocol):
    """One dependency of the API, checked for ``/healthz``."""

    @property
    def name(self) -> str:
        """What is checked: ``broker``, ``influxdb``, ``alert_store``, ``gateway``."""
        ...

    async def check(self) -> DependencyHealth:
        """Its state now; must not raise, and must answer within a few seconds."""
        ...
