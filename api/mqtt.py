"""The API's own MQTT link: publishes commands (QoS 1) and hears replies and statuses.

One ``aiomqtt`` client under a persistent session (clean session off), so replies published
while the link is down wait at the broker. aiomqtt does not reconnect by itself: ``run()``
does, with exponential backoff, for as long as it runs. Uplink messages are decoded with the
device catalogue's schemas; what does not decode is counted and skipped (the gateway
dead-letters it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiomqtt

from api.errors import CommandNotDelivered
from api.sources import DependencyHealth
from devices import (
    Channel,
    DeviceError,
    Message,
    MqttSession,
    decode_message,
    device_subscription,
    session_client,
)

__all__ = ["MessageHandler", "MqttLink", "MqttLinkConfig"]

log = logging.getLogger(__name__)

MessageHandler = Callable[[Message, bool], Awaitable[None]]
"""Takes a decoded message and whether the broker delivered it as retained."""


MqttLinkConfig = MqttSession  # the one long-lived client session of devices.broker


class MqttLink:
    """``on()`` the channels to hear, ``await run()`` until cancelled; ``publish()`` once
    ``ready`` is set."""

    def __init__(self, config: MqttLinkConfig) -> None:
        self.name = "broker"
        self.config = config
        self._handlers: dict[Channel, MessageHandler] = {}
        self._client: aiomqtt.Client | None = None
        self.ready = asyncio.Event()
        """Set while connected and subscribed."""
        self.connects = 0
        self.undecodable = 0
        self.published = 0
        self.handler_errors = 0

    def on(self, channel: Channel, handler: MessageHandler) -> None:
        """Hear a device channel (``cmd_result``, ``status``); call before ``run()``."""
        self._handlers[channel] = handler

    @property
    def connected(self) -> bool:
        """Whether the link is up now."""
        return self._client is not None

    async def run(self) -> None:
        """Connect, subscribe, dispatch; reconnect with backoff after any loss."""
        config = self.config
        delay = config.retry_initial_s
        while True:
            try:
                async with session_client(config) as client:
                    for channel in self._handlers:
                        await client.subscribe(device_subscription(channel=channel), qos=1)
                    self._client = client
                    self.connects += 1
                    self.ready.set()
                    log.info(
                        "api_broker_connected", extra={"host": config.host, "port": config.port}
                    )
                    delay = config.retry_initial_s
                    async for message in client.messages:
                        payload = message.payload
                        data = payload if isinstance(payload, bytes) else str(payload).encode()
                        await self._dispatch(str(message.topic), data, retained=message.retain)
            except aiomqtt.MqttError as exc:
                log.warning(
                    "api_broker_disconnected", extra={"error": str(exc), "retry_in_s": delay}
                )
            finally:
                self._client = None
                self.ready.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.retry_max_s)

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and return once the broker acknowledged it."""
        client = self._client
        if client is None:
            raise CommandNotDelivered(topic, "not connected to the broker")
        try:
            await client.publish(topic, payload, qos=1, timeout=self.config.timeout_s)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            raise CommandNotDelivered(topic, f"the broker did not take it: {exc}") from exc
        self.published += 1

    async def check(self) -> DependencyHealth:
        """For ``/healthz``: connected or not, and how often it (re)connected."""
        return DependencyHealth(
            self.name,
            self.connected,
            {
                "host": self.config.host,
                "port": self.config.port,
                "connects": self.connects,
                "undecodable": self.undecodable,
            },
        )

    async def _dispatch(self, topic: str, data: bytes, *, retained: bool) -> None:
        try:
            message = decode_message(topic, data)
        except DeviceError as exc:
            self.undecodable += 1
            log.debug("api_message_undecodable", extra={"topic": topic, "error": str(exc)})
            return
        handler = self._handlers.get(message.topic.channel)
        if handler is None:
            return
        try:
            await handler(message, retained)
        except Exception:  # the link's loop: one bad message must not drop the link
            self.handler_errors += 1
            log.exception("api_message_handler_failed", extra={"topic": topic})
