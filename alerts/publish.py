"""Alert changes on MQTT: ``city/alerts/{district}/{kind}/{rule}``, one JSON object each."""

from __future__ import annotations

import aiomqtt
import orjson

from alerts.document import change_document
from alerts.model import AlertChange
from devices import alert_topic

__all__ = ["MqttAlertPublisher"]


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
