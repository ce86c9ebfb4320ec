"""Settings → the notification relay the API serves, and the local Alertmanager's way to it.

``build_api`` serves ``POST /hooks/alertmanager`` with :func:`build_relay`. ``smartcity up``
points the local Alertmanager's webhook receivers at that route with :func:`alertmanager_hook`:
the API's own URL, and a token of its own (named ``alertmanager``, scope operate) in a 0600 file
the rendered config names as ``http_config.authorization.credentials_file``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from alerts import AlertRelay, DeliveryLog, MqttAlertPublisher, load_subscribers
from api import Scope, TokenNotFound, TokenStore
from devices import ServiceRole
from smartcity.assembly.engine import alert_publisher
from smartcity.settings import Settings

__all__ = [
    "ALERTMANAGER_TOKEN_NAME",
    "AlertmanagerHook",
    "RelayParts",
    "alertmanager_hook",
    "alertmanager_token_file",
    "build_relay",
    "ensure_alertmanager_token",
]

log = logging.getLogger(__name__)

ALERTMANAGER_TOKEN_NAME = "alertmanager"
HOOK_PATH = "/hooks/alertmanager"


@dataclass(frozen=True, slots=True)
class RelayParts:
    """The relay and what it owns: its reconnecting MQTT connection and its delivery log."""

    relay: AlertRelay
    publisher: MqttAlertPublisher
    seen: DeliveryLog


def build_relay(settings: Settings, mqtt_url: str) -> RelayParts:
    """The relay of ``settings.relay_config_path``'s subscribers, publishing as the broker user
    ``platform.relay`` (TLS when secured); ``RelayConfigInvalid`` names the file and field."""
    subscribers = load_subscribers(settings.relay_config_path)
    publisher = alert_publisher(
        settings,
        mqtt_url,
        client_id=f"{settings.api_mqtt_client_id}-relay",
        role=ServiceRole.RELAY,
    )
    seen = DeliveryLog(settings.relay_state_path)
    relay = AlertRelay(
        subscribers,
        publish=publisher.publish,
        seen=seen,
        dedup_window_s=settings.relay_dedup_window_s,
        timeout_s=settings.alerts_notify_timeout_s,
    )
    return RelayParts(relay, publisher, seen)


def alertmanager_token_file(settings: Settings) -> Path:
    """Where the local Alertmanager's API token is kept (mode 0600)."""
    return Path(settings.data_dir) / "alertmanager-api-token"


def ensure_alertmanager_token(settings: Settings, tokens: TokenStore | None = None) -> Path:
    """The local Alertmanager's token file: kept when it still holds the live ``alertmanager``
    token, else a new token is made (the old one revoked) and written there, mode 0600."""
    store = tokens or TokenStore(settings.api_tokens_file)
    path = alertmanager_token_file(settings)
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        secret = ""
    found = store.verify(secret) if secret else None
    if found is not None and found.name == ALERTMANAGER_TOKEN_NAME:
        return path
    with contextlib.suppress(TokenNotFound):  # a token whose file was lost: a new one
        store.revoke(ALERTMANAGER_TOKEN_NAME)
    issued = store.create(ALERTMANAGER_TOKEN_NAME, Scope.OPERATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)  # an older file keeps its mode through O_CREAT
        file.write(issued.secret)
    log.info("alertmanager_token_written", extra={"path": str(path)})
    return path


@dataclass(frozen=True, slots=True)
class AlertmanagerHook:
    """Where the local Alertmanager's webhooks post, and how it proves who it is."""

    url: str
    credentials_file: Path
    ca_file: Path | None  # the API's certificate, when it serves HTTPS


def alertmanager_hook(settings: Settings) -> AlertmanagerHook | None:
    """The API's relay route with the local Alertmanager's token, or ``None`` when the API's
    address is not known before it starts (``SMARTCITY_API_PORT`` unset or 0) or when
    ``SMARTCITY_ALERTMANAGER_WEBHOOK_URL`` sends the webhooks elsewhere (no token goes there)."""
    if settings.alertmanager_webhook_url is not None:
        return None
    if not settings.api_port:
        log.warning(
            "relay_webhook_not_pointed",
            extra={"reason": "SMARTCITY_API_PORT unset or 0: the webhook URL stays as configured"},
        )
        return None
    scheme = "https" if settings.api_tls_cert is not None else "http"
    host = settings.api_host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return AlertmanagerHook(
        url=f"{scheme}://{host}:{settings.api_port}{HOOK_PATH}",
        credentials_file=ensure_alertmanager_token(settings).resolve(),
        ca_file=Path(settings.api_tls_cert).resolve() if settings.api_tls_cert else None,
    )
