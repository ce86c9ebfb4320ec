"""Alert changes on MQTT: ``city/alerts/{district}/{kind}/{rule}``, one JSON object each.

The publisher owns its broker connection. aiomqtt does not reconnect, so a broker restart used
to leave the engine with a dead client for good; here a publish that finds the connection gone
drops it and connects again (at once the first time, then with a growing pause between
attempts, ``reconnect_min_s`` doubling up to ``reconnect_max_s``). While the broker stays away,
``notify`` raises ``AlertNotDelivered`` without waiting, and the engine re-announces what this
listener missed once it takes changes again.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time

import aiomqtt
import orjson

from alerts.document import change_document
from alerts.errors import AlertNotDelivered
from alerts.model import AlertChange
from devices import BrokerAddress, alert_topic

__all__ = ["MqttAlertPublisher"]

log = logging.getLogger(__name__)


class MqttAlertPublisher:
    """A ``Notifier`` that publishes each change on its alert topic, over its own connection.

    ```python
    async with MqttAlertPublisher(address, identifier="gw-alerts", qos=1, timeout_s=5.0,
                                  reconnect_min_s=0.5, reconnect_max_s=30.0) as publisher:
        await publisher.notify(change)
    ```

    Not retained: the topic is per rule, not per alert, so a retained message would show one
    alert of the rule as if it were the rule's whole state.
    """

    def __init__(
        self,
        address: BrokerAddress,
        *,
        identifier: str,
        qos: int,
        timeout_s: float,
        reconnect_min_s: float,
        reconnect_max_s: float,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._address = address
        self._tls_context = tls_context
        self._identifier = identifier
        self._qos = qos
        self._timeout_s = timeout_s
        self._pause_min_s = reconnect_min_s
        self._pause_max_s = reconnect_max_s
        self._pause_s = 0.0  # no pause before the first attempt after a loss
        self._next_attempt = 0.0  # monotonic time before which no connection is tried
        self._client: aiomqtt.Client | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self.connects = 0  # connections made, the first one included

    async def __aenter__(self) -> MqttAlertPublisher:
        try:
            await self._connect()
        except AlertNotDelivered as exc:  # the broker may come later: notify() tries again
            log.warning("alert_publisher_not_connected", extra={"reason": exc.reason})
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._disconnect()

    async def notify(self, change: AlertChange) -> None:
        """Publish one change; raises ``AlertNotDelivered`` when the broker does not take it."""
        alert = change.alert
        topic = alert_topic(alert.district, alert.kind, alert.rule)
        await self.publish(topic, orjson.dumps(change_document(change)))

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish any message over the same reconnecting connection (the relay's wall-screen
        topics); raises ``AlertNotDelivered`` when the broker does not take it."""
        for attempt in (1, 2):
            client = self._client or await self._connect()
            try:
                await client.publish(topic, payload, qos=self._qos, timeout=self._timeout_s)
                return
            except aiomqtt.MqttError as exc:
                # the connection is gone (a broker restart): drop it and, once, try a new one
                await self._disconnect()
                if attempt == 2:
                    raise AlertNotDelivered("MqttAlertPublisher", repr(exc)) from exc
                log.warning("alert_publisher_connection_lost", extra={"reason": repr(exc)})

    async def _connect(self) -> aiomqtt.Client:
        now = time.monotonic()
        if now < self._next_attempt:
            raise AlertNotDelivered(
                "MqttAlertPublisher",
                f"broker unreachable; next attempt in {self._next_attempt - now:.1f} s",
            )
        address = self._address
        client = aiomqtt.Client(
            address.host,
            address.port,
            username=address.username,
            password=address.password,
            identifier=self._identifier,
            tls_context=self._tls_context
            or (ssl.create_default_context() if address.tls else None),
            timeout=self._timeout_s,
        )
        stack = contextlib.AsyncExitStack()
        try:
            await stack.enter_async_context(client)
        except aiomqtt.MqttError as exc:
            self._pause_s = min(max(2 * self._pause_s, self._pause_min_s), self._pause_max_s)
            self._next_attempt = time.monotonic() + self._pause_s
            raise AlertNotDelivered("MqttAlertPublisher", f"cannot connect: {exc}") from exc
        self._client, self._stack = client, stack
        self._pause_s = 0.0
        self.connects += 1
        log.info("alert_publisher_connected", extra={"connects": self.connects})
        return client

    async def _disconnect(self) -> None:
        stack, self._client, self._stack = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
                await stack.aclose()
