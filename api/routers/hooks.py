"""Alertmanager's webhook: ``POST /hooks/alertmanager``, forwarded by ``alerts.AlertRelay``.

Built by the front door with the relay it serves (``create_app(routers=[hooks_router(relay)])``).
Scope operate: the caller makes the platform send notifications. The local Alertmanager
presents its own token (``alertmanager``) from a credentials file. 200 says what was delivered
now and what a retry found already delivered; 503 when a channel failed, so Alertmanager
retries and the relay sends only what is still missing.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict

from alerts import AlertRelay, RelayDeliveryFailed, WebhookPayload
from api.auth import require
from api.tokens import Scope

__all__ = ["RelayAnswer", "hooks_router"]


class RelayAnswer(BaseModel):
    """What one webhook call did: ``subscriber/channel`` names."""

    model_config = ConfigDict(frozen=True)

    delivered: list[str]
    duplicates: list[str]


def hooks_router(relay: AlertRelay) -> APIRouter:
    """The webhook route, serving ``relay``."""
    router = APIRouter(prefix="/hooks", tags=["hooks"])

    @router.post(
        "/alertmanager",
        response_model=RelayAnswer,
        dependencies=[Depends(require(Scope.OPERATE))],
        responses={503: {"description": "a channel failed; Alertmanager retries"}},
    )
    async def alertmanager_webhook(payload: WebhookPayload) -> RelayAnswer:
        """One Alertmanager notification (webhook version 4), forwarded to the relay's
        subscribers of its receiver; a retried one sends nothing twice.

        Scope: operate."""
        try:
            outcome = await relay.handle(payload)
        except RelayDeliveryFailed as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        return RelayAnswer(delivered=list(outcome.delivered), duplicates=list(outcome.duplicates))

    return router
