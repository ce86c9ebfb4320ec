"""The incident service fed from MQTT: the alert changes every rule engine publishes on
``city/alerts/...`` (``alerts.change_document``), read back and handed to ``service.notify``.

Where gateway workers each run an engine of their own (compose), no engine may open incidents
itself: two engines seeing the same cabinet would race to open it twice. One process holds the
incident service and takes every engine's changes from the broker, one at a time and in the
order they arrive, so the second alert of a group finds the incident the first one opened.

One ``aiomqtt`` client under a persistent session (clean session off, QoS 1): changes published
while the feed is down wait at the broker (up to its queue limit). aiomqtt acknowledges a
message as it hands it over, so a crash in the middle of one change can lose that change; the
engines re-announce firing alerts on their timer, which opens or joins its incident then. The
service's own notifications (rule ``incident-notification``) come back on the same topics and
are skipped; a document that is not a change is logged, counted and skipped.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from alerts import AlertDocumentInvalid, Notifier, parse_change_document
from command.executors import NOTIFICATION_RULE
from devices import MqttSession, alert_filter, session_client

__all__ = ["AlertFeed", "AlertFeedConfig"]

log = logging.getLogger(__name__)


AlertFeedConfig = MqttSession  # the one long-lived client session of devices.broker


class AlertFeed:
    """``await run()`` until cancelled: every alert change on the broker to ``listener``."""

    def __init__(self, config: AlertFeedConfig, listener: Notifier) -> None:
        self.config = config
        self._listener = listener
        self.ready = asyncio.Event()
        """Set while connected and subscribed."""
        self.connects = 0
        self.received = 0
        self.own = 0  # the service's own notifications, come back and skipped
        self.invalid = 0
        self.failed = 0

    async def run(self) -> None:
        """Connect, subscribe, hand changes over; reconnect with backoff after any loss."""
        config = self.config
        delay = config.retry_initial_s
        while True:
            try:
                async with session_client(config) as client:
                    await client.subscribe(alert_filter(), qos=1)
                    self.connects += 1
                    self.ready.set()
                    log.info(
                        "incident_feed_connected", extra={"host": config.host, "port": config.port}
                    )
                    delay = config.retry_initial_s
                    async for message in client.messages:
                        payload = message.payload
                        data = payload if isinstance(payload, bytes) else str(payload).encode()
                        await self.take(str(message.topic), data)
                        _stop_if_cancelled()
            except aiomqtt.MqttError as exc:
                _stop_if_cancelled(exc)
                log.warning(
                    "incident_feed_disconnected", extra={"error": str(exc), "retry_in_s": delay}
                )
            finally:
                self.ready.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.retry_max_s)

    async def take(self, topic: str, payload: bytes) -> None:
        """One message from an alert topic: a change goes to the listener; the rest is skipped."""
        try:
            change = parse_change_document(payload, source=topic)
        except AlertDocumentInvalid as exc:
            self.invalid += 1
            log.warning("incident_feed_document_invalid", extra={"topic": topic, "error": str(exc)})
            return
        if change.alert.rule == NOTIFICATION_RULE:  # our own notifications, coming back
            self.own += 1
            return
        self.received += 1
        try:
            await self._listener.notify(change)
        except Exception:  # the feed's loop: one change that fails must not stop the others
            self.failed += 1
            log.exception(
                "incident_feed_change_failed",
                extra={"topic": topic, "fingerprint": change.alert.fingerprint},
            )


def _stop_if_cancelled(cause: BaseException | None = None) -> None:
    """End the feed's task if it was asked to stop, even where a client library turned the
    cancellation into its own error or lost it (Python 3.11's ``wait_for``)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from cause
