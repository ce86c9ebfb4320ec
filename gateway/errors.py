"""Errors of the gateway.

GatewayError
├── PayloadRejected(topic, reason, detail)   a device message that is dead-lettered
├── BrokerUnavailable(host, port, detail)     the broker refused or dropped us at start
└── ConfigInvalid(field, value, detail)       a gateway or worker configuration that cannot run
"""

from __future__ import annotations

__all__ = ["BrokerUnavailable", "ConfigInvalid", "GatewayError", "PayloadRejected"]


class GatewayError(Exception):
    """Base of every error raised by ``gateway``."""


class PayloadRejected(GatewayError):
    """A device message the gateway refuses; ``reason`` is the stable code of its dead letter."""

    def __init__(self, topic: str, reason: str, detail: str) -> None:
        super().__init__(f"{topic}: {detail}")
        self.topic = topic
        self.reason = reason
        self.detail = detail


class BrokerUnavailable(GatewayError):
    """The broker could not be reached or refused the connection."""

    def __init__(self, host: str, port: int, detail: str) -> None:
        super().__init__(f"broker {host}:{port}: {detail}")
        self.host = host
        self.port = port
        self.detail = detail


class ConfigInvalid(GatewayError):
    """A configuration value the gateway cannot run with; names the field and value."""

    def __init__(self, field: str, value: object, detail: str) -> None:
        super().__init__(f"{field}={value!r}: {detail}")
        self.field = field
        self.value = value
        self.detail = detail
