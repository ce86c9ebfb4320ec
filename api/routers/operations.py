"""Acknowledge an alert, silence alerts, list silences: the page's buttons (scope operate to
change, read to list). Built with the ``AlertActions`` it works on and handed to
``create_app(routers=...)``. Alertmanager not answering is a 503; a silence it refuses, 422."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from alerts import AlertmanagerRefused, AlertmanagerUnavailable
from api.alert_actions import AlertActions, AlertNotFiring, SilenceView
from api.auth import Caller, require
from api.problems import field_error
from api.tokens import Scope

__all__ = ["AckIn", "SilenceIn", "SilenceOut", "operations_router"]

log = logging.getLogger(__name__)

_LABEL = re.compile(r"[a-z_][a-z0-9_]{0,63}")


class AckIn(BaseModel):
    """An acknowledgement: what the operator says they are doing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: str = Field(default="", max_length=500)


class SilenceIn(BaseModel):
    """A silence: labels to match as Alertmanager holds them (``alertname`` is the rule,
    ``device_id`` the device; ``rule`` and ``device`` are taken for them), for how long, why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matchers: dict[str, str] = Field(
        min_length=1,
        max_length=16,
        description='e.g. {"alertname": "ammonia-high", "device_id": "WQ-0001"}',
    )
    duration_s: float = Field(gt=0, le=7 * 86_400, description="from now, at most a week")
    comment: str = Field(min_length=1, max_length=500, description="why: people will ask")


class SilenceOut(BaseModel):
    """A silence in force and the active alerts it mutes now (by fingerprint)."""

    model_config = ConfigDict(frozen=True)

    id: str
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    mutes: list[str]
    acknowledges: str | None = Field(description="the alert an acknowledgement's silence is for")

    @classmethod
    def of(cls, view: SilenceView) -> SilenceOut:
        """From the actions' value."""
        return cls(
            id=view.id,
            matchers=dict(view.matchers),
            starts_at=view.starts_at,
            ends_at=view.ends_at,
            created_by=view.created_by,
            comment=view.comment,
            mutes=list(view.mutes),
            acknowledges=view.acknowledges,
        )


def operations_router(actions: AlertActions) -> APIRouter:
    """The routes, working on ``actions``."""
    router = APIRouter(tags=["alerts"])

    @router.post("/alerts/{fingerprint}/ack", status_code=status.HTTP_202_ACCEPTED)
    async def acknowledge(
        fingerprint: str,
        body: AckIn,
        caller: Annotated[Caller, Depends(require(Scope.OPERATE))],
    ) -> dict[str, str]:
        """Acknowledge a firing alert as the token's holder; the engine announces it on its
        next tick (202), and ``acknowledged_by`` shows it from then on.

        Scope: operate."""
        try:
            await actions.acknowledge(fingerprint, caller.name, body.comment)
        except AlertNotFiring as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        except AlertmanagerUnavailable as exc:
            raise _unavailable(exc) from None
        log.info("api_alert_acknowledged", extra={"fingerprint": fingerprint, "by": caller.name})
        return {"fingerprint": fingerprint, "acknowledged_by": caller.name}

    @router.post("/silences", response_model=SilenceOut, status_code=status.HTTP_201_CREATED)
    async def silence(
        body: SilenceIn, caller: Annotated[Caller, Depends(require(Scope.OPERATE))]
    ) -> SilenceOut:
        """Silence alerts whose labels match every matcher, from now for ``duration_s``: they
        still fire and show, but nobody is notified.

        Scope: operate."""
        for name in body.matchers:
            if not _LABEL.fullmatch(name):
                raise field_error(("body", "matchers", name), "not a label name ([a-z_][a-z0-9_]*)")
        try:
            made = await actions.silence(
                body.matchers, timedelta(seconds=body.duration_s), caller.name, body.comment
            )
        except AlertmanagerUnavailable as exc:
            raise _unavailable(exc) from None
        except AlertmanagerRefused as exc:
            raise field_error(("body", "matchers"), f"Alertmanager refused it: {exc}") from None
        log.info("api_silence_created", extra={"silence": made.id, "by": caller.name})
        return SilenceOut.of(made)

    @router.get(
        "/silences", response_model=list[SilenceOut], dependencies=[Depends(require(Scope.READ))]
    )
    async def silences() -> list[SilenceOut]:
        """Silences in force, each with the active alerts it mutes.

        Scope: read."""
        try:
            return [SilenceOut.of(view) for view in await actions.silences()]
        except AlertmanagerUnavailable as exc:
            raise _unavailable(exc) from None

    return router


def _unavailable(exc: AlertmanagerUnavailable) -> HTTPException:
    log.warning("api_alertmanager_unavailable", extra={"reason": str(exc)})
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, f"silences live in Alertmanager: {exc}"
    )
