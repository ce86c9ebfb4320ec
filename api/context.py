"""What every route may reach: the API's dependencies, held by the app, given by ``Depends``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from alerts import AlertOperations
from api.commands import CommandDesk
from api.ratelimit import FailedAttempts
from api.sources import AlertReader, HealthCheck, PresenceSource
from api.tokens import TokenStore
from command import IncidentService
from devices import Registry

__all__ = ["ApiContext", "context", "incident_service", "operations"]


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
    operations: AlertOperations | None  # acknowledgements and silences; None: no Alertmanager
    incidents: IncidentService | None = None  # emergency command; None: the platform runs none


def operations(request: Request) -> AlertOperations:
    """The alert operations, or 503 when the API runs without an Alertmanager."""
    found = context(request).operations
    if found is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "no Alertmanager is configured (SMARTCITY_ALERTMANAGER_URL): silences and"
            " acknowledgements live there",
        )
    return found


def incident_service(request: Request) -> IncidentService:
    """The incident service, or 503 when this API runs without one."""
    found = context(request).incidents
    if found is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "this API runs no incident service: start it with `smartcity up`, or `smartcity api`"
            " with SMARTCITY_API_INCIDENTS=true (the one process that opens incidents)",
        )
    return found


def context(request: Request) -> ApiContext:
    """The running app's dependencies (a FastAPI dependency)."""
    found = request.app.state.context
    assert isinstance(found, ApiContext)
    return found
