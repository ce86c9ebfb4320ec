"""The app factory: every dependency passed in, one router per concern."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from alerts import (
    AlertmanagerRefused,
    AlertmanagerUnavailable,
    AlertNotFound,
    AlertOperations,
    SilenceNotFound,
)
from api.commands import CommandDesk
from api.context import ApiContext
from api.problems import RequestIds, validation_failed
from api.ratelimit import FailedAttempts
from api.routers import alerts, commands, devices, health, silences, tokens
from api.sources import AlertReader, HealthCheck, PresenceSource
from api.tokens import TokenStore
from devices import Registry

__all__ = ["BODY_MAX_BYTES", "create_app"]

BODY_MAX_BYTES = 64 * 1024

DESCRIPTION = """\
The operators' API of the smartcity platform: alerts, devices and their presence, downlink
commands, health. Every call but `/healthz` needs `Authorization: Bearer <token>`; a token is made
with `smartcity api token create --name NAME --scope read|operate|admin`. Scopes include each
other: read < operate (send commands) < admin (manage tokens).
"""


# what the alert operations raise, as answers: each error says what and where
_ALERT_ERRORS: dict[type[Exception], int] = {
    AlertNotFound: 404,
    SilenceNotFound: 404,
    AlertmanagerRefused: 422,
    AlertmanagerUnavailable: 503,
}


def _answer_with(code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def answer(request: Request, exc: Exception) -> Response:
        return JSONResponse(status_code=code, content={"detail": str(exc)})

    return answer


def create_app(
    *,
    registry: Registry,
    alerts_store: AlertReader,
    presence: PresenceSource,
    commands_desk: CommandDesk,
    token_store: TokenStore,
    limiter: FailedAttempts,
    health_checks: Sequence[HealthCheck] = (),
    alert_operations: AlertOperations | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The operators' API as an ASGI app; serve it with ``api.ApiServer`` or any ASGI server.

    ``alert_operations`` (the same ``alerts.AlertOperations`` as ``smartcity alerts``) serves
    acknowledgements and silences; without it they answer 503. ``routers`` adds concerns built
    elsewhere (Alertmanager's webhook) beside the built-in ones; they reach the dependencies with
    ``Depends(api.context)`` and guard themselves with ``Depends(api.require(Scope.X))``.
    """
    app = FastAPI(
        title="smartcity operators' API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        # every body the API takes is a few hundred bytes; a huge one is refused (413)
        max_body_size=BODY_MAX_BYTES,
    )
    app.state.context = ApiContext(
        registry=registry,
        alerts=alerts_store,
        presence=presence,
        commands=commands_desk,
        tokens=token_store,
        limiter=limiter,
        health=tuple(health_checks),
        operations=alert_operations,
    )
    app.add_exception_handler(RequestValidationError, validation_failed)
    for error, code in _ALERT_ERRORS.items():
        app.add_exception_handler(error, _answer_with(code))
    app.add_middleware(RequestIds)
    for router in (
        health.router,
        alerts.router,
        devices.router,
        commands.router,
        silences.router,
        tokens.router,
        *routers,
    ):
        app.include_router(router)
    return app
