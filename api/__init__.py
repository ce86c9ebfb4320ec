"""The operators' HTTP API: alerts, devices with presence, downlink commands, health; bearer
tokens with scopes read, operate and admin; Alertmanager's webhook (``hooks_router``). OpenAPI
at ``/openapi.json``, docs at ``/docs``; the operators' web page (``api/static``) at ``/``.

Assembled by the front door::

    link = MqttLink(link_config)
    desk = CommandDesk(CommandAudit(path), link, timeout_s=30)
    link.on(Channel.CMD_RESULT, desk.on_result)      # and Channel.STATUS, for StatusPresence
    app = create_app(registry=registry, alerts_store=AlertStore(path), presence=presence,
                     commands_desk=desk, token_store=TokenStore(path), limiter=limiter,
                     health_checks=[link, InfluxPing(url, timeout_s=2)],
                     routers=[hooks_router(relay)])             # POST /hooks/alertmanager
    server = ApiServer(app, host="127.0.0.1", port=0, shutdown_timeout_s=10)
    # the page's own routes beside them: routers=[series_router(catalogue, InfluxReader(...)),
    #     events_router(StreamTickets(...))]
    server.bind()                                   # server.url is known from here
    async with asyncio.TaskGroup() as group:        # link.run(), desk.run(), server.run()
        ...
"""

from api.app import STATIC_DIR, create_app
from api.audit import CommandAudit, CommandRecord, CommandStatus, Delivery
from api.auth import Caller, require
from api.commands import CommandDesk
from api.context import ApiContext, context
from api.errors import (
    ApiError,
    CommandNotDelivered,
    ListenFailed,
    TokenFileInvalid,
    TokenNameTaken,
    TokenNotFound,
)
from api.health import AlertStoreCheck, FunctionCheck, InfluxPing
from api.mqtt import MessageHandler, MqttLink, MqttLinkConfig
from api.presence import StatusPresence
from api.ratelimit import FailedAttempts
from api.routers.events import events_router
from api.routers.hooks import RelayAnswer, hooks_router
from api.routers.series import series_router
from api.series import Band, InfluxReader, SeriesQuery, SeriesUnavailable
from api.server import ApiServer
from api.sources import (
    AlertReader,
    CommandPublisher,
    DependencyHealth,
    DevicePresence,
    HealthCheck,
    PresenceSource,
)
from api.stream import StreamTickets
from api.tokens import IssuedToken, Scope, TokenRecord, TokenStore

__all__ = [
    "STATIC_DIR",
    "AlertReader",
    "AlertStoreCheck",
    "ApiContext",
    "ApiError",
    "ApiServer",
    "Band",
    "Caller",
    "CommandAudit",
    "CommandDesk",
    "CommandNotDelivered",
    "CommandPublisher",
    "CommandRecord",
    "CommandStatus",
    "Delivery",
    "DependencyHealth",
    "DevicePresence",
    "FailedAttempts",
    "FunctionCheck",
    "HealthCheck",
    "InfluxPing",
    "InfluxReader",
    "IssuedToken",
    "ListenFailed",
    "MessageHandler",
    "MqttLink",
    "MqttLinkConfig",
    "PresenceSource",
    "RelayAnswer",
    "Scope",
    "SeriesQuery",
    "SeriesUnavailable",
    "StatusPresence",
    "StreamTickets",
    "TokenFileInvalid",
    "TokenNameTaken",
    "TokenNotFound",
    "TokenRecord",
    "TokenStore",
    "context",
    "create_app",
    "events_router",
    "hooks_router",
    "require",
    "series_router",
]
