"""Alerts: the active ones, one by fingerprint, and the history of changes (scope read)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status

from alerts import Alert, AlertOperations, Severity
from api.auth import Caller, require
from api.context import ApiContext, context, operations
from api.models import AckIn, AckOut, AlertChangeOut, AlertOut
from api.problems import field_error
from api.tokens import Scope
from devices import Kind

__all__ = ["router"]

router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[Depends(require(Scope.READ))])

Operations = Annotated[AlertOperations, Depends(operations)]

Context = Annotated[ApiContext, Depends(context)]


def _matches(
    alert: Alert,
    district: str | None,
    kind: Kind | None,
    severity: Severity | None,
    rule: str | None,
) -> bool:
    return (
        (district is None or alert.district == district)
        and (kind is None or alert.kind is kind)
        and (severity is None or alert.severity == severity.value)
        and (rule is None or alert.rule == rule)
    )


@router.get("", response_model=list[AlertOut])
async def active_alerts(
    ctx: Context,
    district: str | None = None,
    kind: Kind | None = None,
    severity: Severity | None = None,
    rule: str | None = None,
    state: Literal["pending", "firing"] | None = None,
) -> list[AlertOut]:
    """Alerts pending or firing now, oldest first.

    Scope: read."""
    found = await asyncio.to_thread(ctx.alerts.alerts, include_resolved=False)
    return [
        AlertOut.of(alert)
        for alert in found
        if _matches(alert, district, kind, severity, rule)
        and (state is None or alert.state.value == state)
    ]


@router.get("/history", response_model=list[AlertChangeOut])
async def alert_history(
    ctx: Context,
    district: str | None = None,
    kind: Kind | None = None,
    severity: Severity | None = None,
    since: Annotated[
        datetime | None, Query(description="from this time on (RFC 3339, with an offset)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="before this time (RFC 3339, with an offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AlertChangeOut]:
    """Announced changes (firing, resolved, acknowledged), newest first, from the engine's
    store (the query ``smartcity alerts history`` runs), or from InfluxDB when the API reads
    every worker's alerts (``SMARTCITY_API_ALERTS_FROM=cluster``), filtered by the alert's
    district, kind and severity, and by time.

    Scope: read."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise field_error(("query", name), "needs a UTC offset, e.g. 2026-12-01T08:00:00Z")
    entries = await asyncio.to_thread(
        ctx.alerts.changes,
        since=since,
        until=until,
        district=district,
        kind=kind.value if kind else None,
        severity=severity.value if severity else None,
        limit=limit,
    )
    return [AlertChangeOut.of(entry) for entry in entries]


@router.get("/{fingerprint}", response_model=AlertOut)
async def one_alert(ctx: Context, fingerprint: str) -> AlertOut:
    """One alert by its fingerprint, active or resolved.

    Scope: read."""
    found = await asyncio.to_thread(ctx.alerts.alerts, include_resolved=True)
    for alert in found:
        if alert.fingerprint == fingerprint:
            return AlertOut.of(alert)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {fingerprint}")


@router.post("/{fingerprint}/ack", response_model=AckOut)
async def acknowledge(
    fingerprint: str,
    body: AckIn,
    ops: Operations,
    caller: Annotated[Caller, Depends(require(Scope.OPERATE))],
) -> AckOut:
    """Someone is on it: silence exactly this firing alert in Alertmanager until it resolves
    (the repeats stop) and record who, as ``smartcity alerts ack`` does. The fingerprint may be
    a unique prefix.

    Scope: operate."""
    done = await ops.acknowledge(fingerprint, caller.name, body.comment)
    return AckOut(
        fingerprint=done.fingerprint,
        rule=done.rule,
        by=done.by,
        comment=done.comment,
        at=done.at,
        silence_id=done.silence_id,
    )
