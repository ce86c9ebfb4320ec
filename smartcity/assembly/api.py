"""Settings → the operators' API: its token store, MQTT link, command desk, app and server.

``smartcity api`` serves it on its own against configured servers (presence from the devices'
status messages); ``smartcity up`` serves it beside the gateway (presence from the gateway).
Both serve Alertmanager's webhook through the relay (``smartcity.assembly.relay``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from alerts import AlertOperations, AlertStore
from api import (
    AlertStoreCheck,
    ApiServer,
    CommandAudit,
    CommandDesk,
    DevicePresence,
    FailedAttempts,
    FunctionCheck,
    HealthCheck,
    InfluxPing,
    ListenFailed,
    MqttLink,
    MqttLinkConfig,
    PresenceSource,
    StatusPresence,
    TokenStore,
    create_app,
    hooks_router,
)
from command import IncidentService
from devices import Channel, Registry, ServiceRole, parse_broker_url, ssl_context
from gateway import DeviceState, Gateway
from smartcity.assembly.cluster_alerts import ClusterAlertReader
from smartcity.assembly.engine import alert_operations
from smartcity.assembly.page import page_routers
from smartcity.assembly.relay import RelayParts, build_relay
from smartcity.security import mqtt_login, mqtt_tls
from smartcity.settings import Settings, SettingsInvalid

__all__ = ["ApiService", "GatewayPresence", "build_api", "token_store"]

_HEALTH_TIMEOUT_S = 2.0


def token_store(settings: Settings) -> TokenStore:
    """The token file the API and ``smartcity api token`` share."""
    return TokenStore(settings.api_tokens_file)


class GatewayPresence(Mapping[str, DevicePresence]):
    """The gateway's presence tracker seen as the API's ``PresenceSource`` (read on demand)."""

    def __init__(self, gateway: Gateway) -> None:
        self._devices: Mapping[str, DeviceState] = gateway.presence.devices

    def presence(self) -> Mapping[str, DevicePresence]:
        """Every device the gateway has heard, by id."""
        return self

    def __getitem__(self, device_id: str) -> DevicePresence:
        state = self._devices[device_id]
        seen = datetime.fromtimestamp(state.last_seen, UTC) if state.last_seen else None
        return DevicePresence(state.online, seen)

    def __iter__(self) -> Iterator[str]:
        return iter(self._devices)

    def __len__(self) -> int:
        return len(self._devices)


@dataclass(frozen=True, slots=True)
class ApiService:
    """The API's parts; ``await run()`` serves until cancelled, then closes its files."""

    server: ApiServer
    link: MqttLink
    desk: CommandDesk
    audit: CommandAudit
    alert_store: AlertStore | ClusterAlertReader
    relay: RelayParts

    async def run(self) -> None:
        """The MQTT link, the command timeouts and the HTTP server, in one TaskGroup (the
        relay's own MQTT connection open around them)."""
        try:
            async with self.relay.publisher, asyncio.TaskGroup() as group:
                group.create_task(self.link.run(), name="api-mqtt")
                group.create_task(self.desk.run(), name="api-commands")
                group.create_task(self.server.run(), name="api-http")
        finally:
            self.audit.close()
            self.alert_store.close()
            self.relay.seen.close()


def build_api(
    settings: Settings,
    registry: Registry,
    *,
    mqtt_url: str,
    influx_url: str | None,
    alertmanager_urls: Sequence[str] = (),
    gateway: Gateway | None = None,
    incidents: IncidentService | None = None,
) -> ApiService:
    """Assemble the API and take its port (``ListenFailed`` names the setting to change).

    Alerts come from the engine's store, or with ``SMARTCITY_API_ALERTS_FROM=cluster`` from the
    Alertmanager cluster and InfluxDB, which every gateway worker's engine sends to
    (``SettingsInvalid`` if either is not configured). ``incidents`` is the platform's one
    incident service: ``/incidents`` answer 503 without it."""
    alert_store = _alert_reader(settings, influx_url, alertmanager_urls)
    port = settings.api_port if settings.api_port is not None else 0
    if (settings.api_tls_cert is None) != (settings.api_tls_key is None):
        raise ListenFailed(
            settings.api_host, port, "set both SMARTCITY_API_TLS_CERT and SMARTCITY_API_TLS_KEY"
        )
    endpoint = parse_broker_url(mqtt_url)
    # the API's own broker user (platform.api: write cmd, read cmd_result and status), on TLS
    # when the broker is mqtts://, as every platform part
    login = mqtt_login(settings, mqtt_url, ServiceRole.API)
    tls = mqtt_tls(settings, mqtt_url)
    link = MqttLink(
        MqttLinkConfig(
            host=endpoint.host,
            port=endpoint.port,
            username=login.username if login else None,
            password=login.password if login else None,
            client_id=settings.api_mqtt_client_id,
            keepalive_s=settings.gateway_keepalive_s,
            timeout_s=settings.alerts_notify_timeout_s,
            retry_initial_s=settings.ingest_retry_initial_s,
            retry_max_s=settings.ingest_retry_max_s,
            tls_context=ssl_context(tls) if tls is not None else None,
        )
    )
    audit = CommandAudit(settings.api_commands_path)
    desk = CommandDesk(audit, link, timeout_s=settings.api_command_timeout_s)
    link.on(Channel.CMD_RESULT, desk.on_result)
    presence: PresenceSource
    if gateway is not None:
        presence = GatewayPresence(gateway)
    else:
        heard = StatusPresence(registry)
        link.on(Channel.STATUS, heard.on_status)
        presence = heard
    checks: list[HealthCheck] = [link, AlertStoreCheck(alert_store, timeout_s=_HEALTH_TIMEOUT_S)]
    if influx_url is not None:
        checks.append(InfluxPing(influx_url, timeout_s=_HEALTH_TIMEOUT_S))
    if gateway is not None:
        checks.append(FunctionCheck("gateway", lambda: _gateway_health(gateway)))
    tokens = token_store(settings)
    tokens.check()  # a token file open to others stops the start, naming the file
    # Alertmanager's webhook (POST /hooks/alertmanager): a bad subscriber file stops the start
    relay = build_relay(settings, mqtt_url)
    app = create_app(
        registry=registry,
        alerts_store=alert_store,
        presence=presence,
        commands_desk=desk,
        token_store=tokens,
        limiter=FailedAttempts(
            max_failures=settings.api_auth_failures_max,
            window_s=settings.api_auth_failure_window_s,
        ),
        health_checks=checks,
        routers=[
            *page_routers(settings, registry, influx_url=influx_url),
            hooks_router(relay.relay),  # Alertmanager's webhook, through the relay
        ],
        # acknowledgements and silences: the same operations as `smartcity alerts`
        alert_operations=_operations(settings, alertmanager_urls, alert_store),
        incident_service=incidents,
    )
    server = ApiServer(
        app,
        host=settings.api_host,
        port=port,
        shutdown_timeout_s=settings.shutdown_timeout_s,
        tls_cert=settings.api_tls_cert,  # HTTPS when given
        tls_key=settings.api_tls_key,
    )
    try:
        server.bind()
    except ListenFailed as exc:
        audit.close()
        alert_store.close()
        relay.seen.close()
        raise ListenFailed(
            exc.host, exc.port, f"{exc.reason}; set SMARTCITY_API_PORT (0 picks a free port)"
        ) from exc
    return ApiService(server, link, desk, audit, alert_store, relay)


def _alert_reader(
    settings: Settings, influx_url: str | None, alertmanager_urls: Sequence[str]
) -> AlertStore | ClusterAlertReader:
    if settings.api_alerts_from == "engine":
        return AlertStore(settings.alerts_state_path)
    if not alertmanager_urls or influx_url is None:
        raise SettingsInvalid(
            "SMARTCITY_API_ALERTS_FROM=cluster reads active alerts from Alertmanager and their "
            "history from InfluxDB: set SMARTCITY_ALERTMANAGER_URL and SMARTCITY_INFLUX_URL"
        )
    return ClusterAlertReader(
        alertmanager_urls,
        influx_url,
        database=settings.influx_database,
        measurement=settings.alerts_influx_measurement,
        timeout_s=settings.alertmanager_timeout_s,
        username=settings.influx_username,
        password=settings.influx_password.get_secret_value() if settings.influx_password else None,
        token=settings.influx_token.get_secret_value()
        if settings.influx_api == "v2" and settings.influx_token
        else None,
    )


def _operations(
    settings: Settings,
    alertmanager_urls: Sequence[str],
    reader: AlertStore | ClusterAlertReader,
) -> AlertOperations | None:
    """Acknowledgements and silences: the same operations as ``smartcity alerts``; on the
    cluster reader, an acknowledgement is its silence (no engine's store to record it in)."""
    if not alertmanager_urls:
        return None
    operations = alert_operations(settings, alertmanager_urls)
    if isinstance(reader, AlertStore):
        return operations
    return AlertOperations(
        None,
        operations.alertmanager,
        ack_silence_max=operations.ack_silence_max,
        source=reader,
    )


def _gateway_health(gateway: Gateway) -> tuple[bool, Mapping[str, object]]:
    stats = gateway.stats()
    return stats.connected, {
        "connected": stats.connected,
        "received": stats.received,
        "stored": stats.stored,
        "rejected": stats.rejected,
        "devices_online": stats.devices_online,
    }
