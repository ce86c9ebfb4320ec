"""Where devices (and the platform) reach the broker: ``mqtt://[user:pass@]host[:port]``.

One parser for every room that connects: the simulators, the gateway's wiring, the alert
publisher. ``mqtts://`` means TLS (default port 8883); ``tcp://`` is accepted as ``mqtt://``.

``BrokerTls`` says how a TLS connection checks the broker (and proves who we are with a client
certificate); ``ssl_context`` turns it into the ``ssl.SSLContext`` that paho, aiomqtt and our own
publisher all take. Checking is on unless ``verify=False`` is asked for explicitly.

``MqttSession`` is how a long-lived platform client (the API's command link, the incident
service's alert feed) connects: a persistent session under its own client id, and the
backoff it retries with; ``session_client`` makes its aiomqtt client.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiomqtt

from devices.errors import BrokerUrlInvalid, CertificateInvalid

__all__ = [
    "BrokerAddress",
    "BrokerTls",
    "MqttSession",
    "parse_broker_url",
    "session_client",
    "shown_url",
    "ssl_context",
]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and who we are to it."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
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


def shown_url(url: str) -> str:
    """A broker URL as it may be shown or logged: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """How a client checks a TLS broker and, optionally, proves itself with a certificate.

    ``ca_path`` is the CA bundle to trust (``None``: the system's); ``cert_path``/``key_path`` a
    client certificate, for brokers that require one; ``verify=False`` turns certificate and
    hostname checking off, an explicit and loud choice (never a default).
    """

    ca_path: Path | None
    cert_path: Path | None
    key_path: Path | None
    verify: bool


def ssl_context(tls: BrokerTls) -> ssl.SSLContext:
    """The client ``SSLContext`` for ``tls``: TLS 1.2+, the CA, the client certificate."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if tls.ca_path is not None:
            context.load_verify_locations(cafile=str(tls.ca_path))
        if tls.cert_path is not None:
            context.load_cert_chain(str(tls.cert_path), str(tls.key_path) if tls.key_path else None)
    except (OSError, ssl.SSLError) as exc:
        where = tls.ca_path if tls.cert_path is None else tls.cert_path
        raise CertificateInvalid(str(where), f"cannot be loaded: {exc}") from exc
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class MqttSession:
    """Where the broker is and how a long-lived client behaves; defaults live in the settings."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    client_id: str
    keepalive_s: int
    timeout_s: float
    retry_initial_s: float
    retry_max_s: float
    tls_context: ssl.SSLContext | None  # None: plain MQTT


def session_client(session: MqttSession) -> aiomqtt.Client:
    """The aiomqtt client of ``session``: its persistent session (``clean_session=False``), so
    QoS 1 messages published while it was away wait at the broker."""
    return aiomqtt.Client(
        session.host,
        session.port,
        username=session.username,
        password=session.password,
        identifier=session.client_id,
        clean_session=False,
        keepalive=session.keepalive_s,
        timeout=session.timeout_s,
        tls_context=session.tls_context,
    )
