"""The app factory: every dependency passed in, one router per concern."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from alerts import (
    AlertmanagerRefused,
    AlertmanagerUnavailable,
    AlertNotFound,
    AlertOperations,
    SilenceNotFound,
)
from api.commands import CommandDesk
from api.context import ApiContext
from api.problems import RequestIds, incident_refused, validation_failed
from api.ratelimit import FailedAttempts
from api.routers import (
    alerts,
    city,
    commands,
    devices,
    health,
    incidents,
    silences,
    tokens,
    verdicts,
)
from api.sources import AlertReader, HealthCheck, PresenceSource
from api.tokens import TokenStore
from command import CommandError, IncidentService
from devices import Registry

__all__ = ["BODY_MAX_BYTES", "STATIC_DIR", "create_app"]

BODY_MAX_BYTES = 64 * 1024
# the operators' page and its vendored libraries (scripts/vendor-web.sh), served at /
STATIC_DIR = Path(__file__).with_name("static")

DESCRIPTION = """\
The operators' API of the smartcity platform: alerts, devices and their presence, downlink
commands, incidents (emergency command), health. Every call but `/healthz` needs
`Authorization: Bearer <token>`; a token is made with
`smartcity api token create --name NAME --scope read|operate|admin`. Scopes include each
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
    incident_service: IncidentService | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The operators' API as an ASGI app; serve it with ``api.ApiServer`` or any ASGI server.

    ``alert_operations`` (the same ``alerts.AlertOperations`` as ``smartcity alerts``) serves
    acknowledgements and silences; without it they answer 503. ``incident_service`` (the same
    ``command.IncidentService`` as ``smartcity incidents``) serves ``/incidents``; without it
    they answer 503. ``routers`` adds concerns built
    elsewhere (Alertmanager's webhook) beside the built-in ones; they reach the dependencies with
    ``Depends(api.context)`` and guard themselves with ``Depends(api.require(Scope.X))``.
    """
    app = FastAPI(
        title="smartcity operators' API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,  # served below from the vendored Swagger UI: /docs works offline
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
        incidents=incident_service,
    )
    app.add_exception_handler(RequestValidationError, validation_failed)
    for error, code in _ALERT_ERRORS.items():
        app.add_exception_handler(error, _answer_with(code))
    app.add_exception_handler(CommandError, incident_refused)
    app.add_middleware(RequestIds)
    for router in (
        health.router,
        alerts.router,
        devices.router,
        city.router,
        commands.router,
        incidents.router,
        silences.router,
        verdicts.router,
        tokens.router,
        *routers,
    ):
        app.include_router(router)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="smartcity operators' API",
            swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the internet
        )

    # last: every route above wins over a file of the same path
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="page")
    return app
