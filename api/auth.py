"""Bearer-token authentication and scopes, as FastAPI dependencies.

``Depends(require(Scope.OPERATE))`` on a route: no token or a wrong one is 401 with
``WWW-Authenticate: Bearer``, a token without the scope 403; an address that showed too many
wrong tokens is 429 with ``Retry-After``, before its token is even looked at. Tokens are never
logged; a refusal logs the client address and why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import ApiContext, context
from api.tokens import Scope

__all__ = ["Caller", "authenticate", "bearer_token", "require"]

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="a token from `smartcity api token create`")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the token's name (recorded as who asked), id and scope."""

    name: str
    token_id: str
    scope: Scope


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(request: Request, ctx: ApiContext, presented: str | None) -> Caller:
    """Who holds ``presented``; raises 429 (too many failures from here) or 401."""
    client = _client(request)
    wait_s = ctx.limiter.retry_after_s(client)
    if wait_s is not None:
        log.warning("api_auth_rate_limited", extra={"client": client})
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed attempts from this address; try again later",
            headers={"Retry-After": str(math.ceil(wait_s))},
        )
    if presented is None:
        log.info("api_auth_missing", extra={"client": client, "path": request.url.path})
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is needed (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    record = ctx.tokens.verify(presented)
    if record is None:
        ctx.limiter.failed(client)
        log.warning("api_auth_refused", extra={"client": client, "path": request.url.path})
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the token is not valid",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return Caller(record.name, record.id, record.scope)


async def bearer_token(request: Request) -> str | None:
    """The bearer token of a request, if it shows one."""
    credentials = await _bearer(request)
    return credentials.credentials if credentials else None


def require(scope: Scope) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets in only tokens with ``scope`` (or a wider one)."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ctx: Annotated[ApiContext, Depends(context)],
    ) -> Caller:
        caller = authenticate(request, ctx, credentials.credentials if credentials else None)
        if not caller.scope.allows(scope):
            log.warning(
                "api_scope_refused",
                extra={"client": _client(request), "token_id": caller.token_id, "needed": scope},
            )
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this token has scope {caller.scope.value}; this call needs {scope.value}",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope.value}"'
                },
            )
        return caller

    return check
