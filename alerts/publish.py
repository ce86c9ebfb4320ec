"""Alert changes on MQTT: ``city/alerts/{district}/{kind}/{rule}``, one JSON object each."""

from __future__ import annotations

from typing import Any

import aiomqtt
import orjson

from alerts.model import AlertChange
from devices import alert_topic

__all__ = ["MqttAlertPublisher", "change_document"]


def change_document(change: AlertChange) -> dict[str, Any]:
    """The JSON document of an alert change, as MQTT subscribers and webhooks receive it."""
    alert = change.alert
    return {
        "change": change.change.value,
        "at": change.at.isoformat(),
        "fingerprint": alert.fingerprint,
        "rule": alert.rule,
        "state": alert.state.value,
        "severity": alert.severity,
        "district": alert.district,
        "kind": alert.kind.value,
        "labels": dict(alert.labels),
        "summary": alert.summary,
        "runbook": alert.runbook,
        "value": alert.value,
        "active_since": alert.active_since.isoformat(),
        "starts_at": alert.fired_at.isoformat() if alert.fired_at else None,
        "ends_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "acknowledged_by": alert.acknowledged_by,
    }


class MqttAlertPublisher:
    """A ``Notifier`` that publishes each change on its alert topic through a connected client.

    Not retained: the topic is per rule, not per alert, so a retained message would show one
    alert of the rule as if it were the rule's whole state.
    """

    def __init__(self, client: aiomqtt.Client, *, qos: int, timeout_s: float) -> None:
        self._client = client
        self._qos = qos
        self._timeout_s = timeout_s

    async def notify(self, change: AlertChange) -> None:
        """Publish one change; raises ``aiomqtt.MqttError`` when the broker does not take it."""
        alert = change.alert
        topic = alert_topic(alert.district, alert.kind, alert.rule)
        await self._client.publish(
            topic, orjson.dumps(change_document(change)), qos=self._qos, timeout=self._timeout_s
        )
