"""What every route may reach: the API's dependencies, held by the app, given by ``Depends``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request

from api.commands import CommandDesk
from api.ratelimit import FailedAttempts
from api.sources import AlertReader, HealthCheck, PresenceSource
from api.tokens import TokenStore
from devices import Registry

__all__ = ["ApiContext", "context"]


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The API's dependencies, passed to ``create_app`` explicitly."""

    registry: Registry
    alerts: AlertReader
    presence: PresenceSource
    commands: CommandDesk
    tokens: TokenStore
    limiter: FailedAttempts
    health: Sequence[HealthCheck]


def context(request: Request) -> ApiContext:
    """The running app's dependencies (a FastAPI dependency)."""
    found = request.app.state.context
    assert isinstance(found, ApiContext)
    return found
