"""How the platform carries out a plan's automatic steps: two small seams.

``NotificationSender`` tells a team (the assembly wires it to whatever delivers alerts: the
MQTT alert publisher today, Alertmanager's receivers through their client); ``CommandSender``
sends a downlink command to devices and reports each device's reply. ``MqttCommandSender``
is the real one: it publishes on each device's ``cmd`` topic and waits for its ``cmd_result``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import aiomqtt

from alerts import Alert, AlertChange, AlertState, ChangeKind, Notifier, fingerprint
from devices import (
    BrokerAddress,
    Channel,
    Command,
    CommandResult,
    DeviceError,
    DeviceRecord,
    Kind,
    Topic,
    decode_message,
)

__all__ = [
    "AlertNotificationSender",
    "CommandOutcome",
    "CommandSender",
    "MqttCommandSender",
    "NotificationSender",
    "StepNotification",
]

log = logging.getLogger(__name__)

NOTIFICATION_RULE = "incident-notification"


@dataclass(frozen=True, slots=True)
class StepNotification:
    """What the platform tells a team about an incident."""

    incident_id: int
    incident_type: str
    severity: str
    district: str
    kind: Kind | None  # the kind of device the incident is about, when known
    team: str
    text: str
    step_id: str
    at: datetime
    placement: dict[str, str] = field(default_factory=dict)


class NotificationSender(Protocol):
    """Delivers a notification; returns a short result line, raises when it was not taken."""

    async def send(self, notification: StepNotification) -> str:
        """Send one notification."""
        ...

    def incidents(self) -> set[int]:
        """The incidents whose notifications are still standing."""
        ...

    async def withdraw(self, incident_id: int, at: datetime) -> None:
        """The incident is resolved: its notifications stand no more."""
        ...


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """One device's answer to a command (or that it gave none in time)."""

    device_id: str
    ok: bool
    detail: str


class CommandSender(Protocol):
    """Sends one command to several devices and reports each one's outcome."""

    async def send(
        self, devices: Sequence[DeviceRecord], command: Command, *, timeout_s: float
    ) -> list[CommandOutcome]:
        """Send ``command`` to every device; wait up to ``timeout_s`` for the replies."""
        ...


class AlertNotificationSender:
    """A ``NotificationSender`` that hands the notification to alert ``Notifier``s as an alert
    of its own (rule ``incident-notification``, labels ``team``, ``incident``), so it is routed
    like any alert: by team, on MQTT and through Alertmanager's receivers.

    The alert fires while its incident is open (Alertmanager repeats it like any firing alert)
    and is resolved by ``withdraw`` once the incident is resolved. What is standing is kept in
    memory, like the Alertmanager notifier's own re-sends: after a restart Alertmanager lets the
    notification lapse by its ``endsAt``.
    """

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self._notifiers = list(notifiers)
        self._standing: dict[int, dict[str, Alert]] = {}

    async def send(self, notification: StepNotification) -> str:
        """Hand it to every notifier; raises the first failure."""
        if not self._notifiers:
            raise RuntimeError("no notification channel is configured")
        labels = {
            "team": notification.team,
            "incident": str(notification.incident_id),
            "incident_type": notification.incident_type,
            "step": notification.step_id,
            **notification.placement,
        }
        alert = Alert(
            fingerprint=fingerprint(NOTIFICATION_RULE, labels),
            rule=NOTIFICATION_RULE,
            kind=notification.kind or Kind.STREETLIGHT,
            district=notification.district,
            severity=notification.severity,
            labels=labels,
            state=AlertState.FIRING,
            active_since=notification.at,
            fired_at=notification.at,
            resolved_at=None,
            value=None,
            summary=notification.text,
            runbook="",
        )
        change = AlertChange(alert=alert, change=ChangeKind.FIRING, at=notification.at)
        for notifier in self._notifiers:
            await notifier.notify(change)
        self._standing.setdefault(notification.incident_id, {})[alert.fingerprint] = alert
        return f"sent to team {notification.team} through {len(self._notifiers)} channel(s)"

    def incidents(self) -> set[int]:
        """The incidents with a notification still firing."""
        return set(self._standing)

    async def withdraw(self, incident_id: int, at: datetime) -> None:
        """Resolve the incident's notifications on every notifier."""
        for alert in self._standing.pop(incident_id, {}).values():
            resolved = dataclasses.replace(alert, state=AlertState.RESOLVED, resolved_at=at)
            change = AlertChange(alert=resolved, change=ChangeKind.RESOLVED, at=at)
            for notifier in self._notifiers:
                await notifier.notify(change)


class MqttCommandSender:
    """A ``CommandSender`` on the broker: one short connection a step, the command on each
    device's ``cmd`` topic, the replies read from their ``cmd_result`` topics."""

    def __init__(
        self,
        broker: BrokerAddress,
        *,
        client_id: str,
        qos: int = 1,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._broker = broker
        self._client_id = client_id
        self._qos = qos
        self._tls_context = tls_context

    async def send(
        self, devices: Sequence[DeviceRecord], command: Command, *, timeout_s: float
    ) -> list[CommandOutcome]:
        """Publish to every device, then collect replies until all answered or time is up."""
        if not devices:
            return []
        replies: dict[str, CommandOutcome] = {}
        body = command.model_dump_json(exclude_none=True).encode()
        async with aiomqtt.Client(
            self._broker.host,
            self._broker.port,
            username=self._broker.username,
            password=self._broker.password,
            tls_context=self._tls_context,
            identifier=self._client_id,
            timeout=timeout_s,
        ) as client:
            topics = {
                device.id: Topic(device.district, device.kind, device.id, Channel.CMD)
                for device in devices
            }
            for topic in topics.values():
                await client.subscribe(str(topic.with_channel(Channel.CMD_RESULT)), qos=self._qos)
            for topic in topics.values():
                await client.publish(str(topic), body, qos=self._qos)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    async for message in client.messages:
                        outcome = _outcome(str(message.topic), bytes(message.payload), command)
                        if outcome is not None and outcome.device_id in topics:
                            replies[outcome.device_id] = outcome
                        if len(replies) == len(topics):
                            break
        return [
            replies.get(device.id)
            or CommandOutcome(device.id, False, f"no reply within {timeout_s:g} s")
            for device in devices
        ]


def _outcome(topic: str, payload: bytes, command: Command) -> CommandOutcome | None:
    try:
        message = decode_message(topic, payload)
    except DeviceError as exc:
        log.warning("command_result_undecodable", extra={"topic": topic, "error": str(exc)})
        return None
    result = message.payload
    if not isinstance(result, CommandResult) or result.command_id != command.command_id:
        return None
    return CommandOutcome(message.topic.device_id, result.ok, result.detail)
