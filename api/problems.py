"""How errors reach a client: 422 naming the field, and never a stack trace.

A malformed body or query is 422 with one entry per problem, each naming its place
(``{"loc": ["body", "level_pct"], "field": "level_pct", "msg": ...}``); the value sent is not
echoed (it may be a secret). Anything unexpected is 500 with a request id, and the trace goes to
the log under that id, never to the client.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import authenticate, bearer_token
from api.context import context
from command import (
    ALLOWED_TRANSITIONS,
    CommandError,
    IncidentInvalid,
    IncidentNotFound,
    IncidentStateUnusable,
    IncidentStatus,
    StepNotFound,
    TransitionRefused,
    UnknownPlan,
)

__all__ = ["RequestIds", "field_error", "incident_refused", "validation_failed"]

log = logging.getLogger(__name__)


def field_error(
    location: Sequence[str | int], message: str, *, kind: str = "value_error"
) -> RequestValidationError:
    """A 422 about one field, e.g. ``field_error(("body", "action"), "...")``."""
    return RequestValidationError(
        [{"type": kind, "loc": tuple(location), "msg": message, "input": None}]
    )


def _public(error: Any) -> dict[str, object]:
    location = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
    named = [part for part in location if isinstance(part, str) and part not in ("body", "query")]
    return {
        "loc": location,
        "field": ".".join(str(part) for part in named) or "body",
        "msg": str(error.get("msg", "")).removeprefix("Value error, "),
        "type": str(error.get("type", "value_error")),
    }


async def validation_failed(request: Request, exc: Exception) -> Response:
    """The 422 handler: which field, and what is wrong with it.

    FastAPI parses a JSON body before it runs a route's dependencies, so a body that is not JSON
    would be answered before the token is looked at: for those, the token is checked here first
    (a caller without a valid token learns nothing about the body).
    """
    assert isinstance(exc, RequestValidationError)
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        try:
            authenticate(request, context(request), await bearer_token(request))
        except HTTPException as refused:
            return await http_exception_handler(request, refused)
    return JSONResponse(
        status_code=422, content={"detail": [_public(error) for error in exc.errors()]}
    )


async def incident_refused(request: Request, exc: Exception) -> Response:
    """The incident service's refusals as answers: 404 no such incident or step, 422 a value
    an incident cannot have (naming the field), 409 a change its state does not allow (with
    the statuses it may go to from here), 503 an incident store that cannot be used."""
    assert isinstance(exc, CommandError)
    if isinstance(exc, IncidentNotFound | StepNotFound):
        return JSONResponse(status_code=404, content={"detail": str(exc)})
    if isinstance(exc, IncidentInvalid):
        return await validation_failed(request, field_error(("body", exc.field), exc.reason))
    if isinstance(exc, UnknownPlan):
        return await validation_failed(request, field_error(("body", "type"), str(exc)))
    if isinstance(exc, IncidentStateUnusable):
        log.error("incident_store_unusable", extra={"reason": str(exc)})
        return JSONResponse(status_code=503, content={"detail": str(exc)})
    content: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, TransitionRefused):
        allowed = ALLOWED_TRANSITIONS[IncidentStatus(exc.current)]
        content |= {"status": exc.current, "allowed": [s.value for s in allowed]}
    return JSONResponse(status_code=409, content=content)


class RequestIds:
    """ASGI middleware: every response carries ``X-Request-ID``; an exception no handler took
    becomes a 500 naming that id, and is logged with its trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        started = False
        began = time.perf_counter()
        code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal started, code
            if message["type"] == "http.response.start":
                started = True
                code = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "api_request_failed",
                extra={"request_id": request_id, "method": scope["method"], "path": scope["path"]},
            )
            if started:
                raise  # too late for a clean answer; the server closes the connection
            response = JSONResponse(
                status_code=500,
                content={"detail": "internal error", "request_id": request_id},
                headers={"x-request-id": request_id},
            )
            await response(scope, receive, send)
        finally:
            log.debug(
                "api_request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": code,
                    "duration_ms": round((time.perf_counter() - began) * 1000, 1),
                },
            )
