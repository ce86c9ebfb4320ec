"""The operators' HTTP API: alerts, devices with presence, downlink commands, health; bearer
tokens with scopes read, operate and admin. OpenAPI at ``/openapi.json``, docs at ``/docs``.

Assembled by the front door::

    link = MqttLink(link_config)
    desk = CommandDesk(CommandAudit(path), link, timeout_s=30)
    link.on(Channel.CMD_RESULT, desk.on_result)      # and Channel.STATUS, for StatusPresence
    app = create_app(registry=registry, alerts_store=AlertStore(path), presence=presence,
                     commands_desk=desk, token_store=TokenStore(path), limiter=limiter,
                     health_checks=[link, InfluxPing(url, timeout_s=2)])
    server = ApiServer(app, host="127.0.0.1", port=0, shutdown_timeout_s=10)
    server.bind()                                   # server.url is known from here
    async with asyncio.TaskGroup() as group:        # link.run(), desk.run(), server.run()
        ...
"""

from api.app import create_app
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
from api.server import ApiServer
from api.sources import (
    AlertReader,
    CommandPublisher,
    DependencyHealth,
    DevicePresence,
    HealthCheck,
    PresenceSource,
)
from api.tokens import IssuedToken, Scope, TokenRecord, TokenStore

__all__ = [
    "AlertReader",
    "AlertStoreCheck",
    "ApiContext",
    "ApiError",
    "ApiServer",
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
    "IssuedToken",
    "ListenFailed",
    "MessageHandler",
    "MqttLink",
    "MqttLinkConfig",
    "PresenceSource",
    "Scope",
    "StatusPresence",
    "TokenFileInvalid",
    "TokenNameTaken",
    "TokenNotFound",
    "TokenRecord",
    "TokenStore",
    "context",
    "create_app",
    "require",
]
