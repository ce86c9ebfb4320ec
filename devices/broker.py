"""Where devices (and the platform) reach the broker: ``mqtt://[user:pass@]host[:port]``.

One parser for every room that connects: the simulators, the gateway's wiring, the alert
publisher. ``mqtts://`` means TLS (default port 8883); ``tcp://`` is accepted as ``mqtt://``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from devices.errors import BrokerUrlInvalid

__all__ = ["BrokerAddress", "parse_broker_url"]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and who we are to it."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse a broker URL, raising ``BrokerUrlInvalid`` that says what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BrokerUrlInvalid(url, str(exc)) from exc
    if parts.scheme not in ("mqtt", "mqtts", "tcp"):
        raise BrokerUrlInvalid(url, "the URL must start with mqtt://, mqtts:// or tcp://")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname or "127.0.0.1",
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )
