"""Incidents: the list and one whole (scope read); open, take, note, step done, escalate, move
along the workflow and close (scope operate). The same ``command.IncidentService`` as
``smartcity incidents``; the timeline records the calling token's name as who did it.

Refusals are the service's own words: 404 unknown incident or step, 409 a change the incident's
state does not allow (the detail names what is allowed), 422 a bad field (named).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, status

from api.auth import Caller, require
from api.context import ApiContext, context, incident_service
from api.incident_models import (
    CloseIn,
    EscalateIn,
    IncidentIn,
    IncidentOut,
    IncidentSummaryOut,
    NoteIn,
    StatusIn,
    StepDoneIn,
    TakeIn,
)
from api.problems import field_error
from api.tokens import Scope
from command import IncidentService, IncidentStatus

__all__ = ["router"]

router = APIRouter(
    prefix="/incidents", tags=["incidents"], dependencies=[Depends(require(Scope.READ))]
)

Service = Annotated[IncidentService, Depends(incident_service)]
Operator = Annotated[Caller, Depends(require(Scope.OPERATE))]
Context = Annotated[ApiContext, Depends(context)]


@router.get("", response_model=list[IncidentSummaryOut])
async def list_incidents(
    service: Service, include_closed: bool = False
) -> list[IncidentSummaryOut]:
    """Incidents not closed (closed ones too with ``include_closed=true``), newest first.

    Scope: read."""
    found = await asyncio.to_thread(service.list_incidents, include_closed=include_closed)
    return [IncidentSummaryOut.of(incident) for incident in reversed(found)]


@router.get("/{incident_id}", response_model=IncidentOut)
async def one_incident(service: Service, incident_id: int) -> IncidentOut:
    """One incident whole: its steps, alerts, timeline and (for a spill) where it goes next.

    Scope: read."""
    return IncidentOut.of(await asyncio.to_thread(service.get, incident_id))


@router.post("", response_model=IncidentOut, status_code=status.HTTP_201_CREATED)
async def open_incident(
    body: IncidentIn, service: Service, caller: Operator, ctx: Context
) -> IncidentOut:
    """Open an incident by hand, with its type's response plan.

    Scope: operate."""
    districts = sorted({record.district for record in ctx.registry.values()})
    if districts and body.district not in districts:
        raise field_error(
            ("body", "district"),
            f"no district {body.district!r} in the city (known: {', '.join(districts)})",
        )
    incident = await service.open_incident(
        body.type,
        title=body.title,
        district=body.district,
        by=caller.name,
        severity=body.severity.value,
        latitude=body.latitude,
        longitude=body.longitude,
    )
    return IncidentOut.of(incident)


@router.post("/{incident_id}/take", response_model=IncidentOut)
async def take(
    incident_id: int, service: Service, caller: Operator, body: TakeIn | None = None
) -> IncidentOut:
    """The caller takes the incident: they are its assignee now.

    Scope: operate."""
    return IncidentOut.of(await service.take(incident_id, by=caller.name))


@router.post("/{incident_id}/notes", response_model=IncidentOut)
async def note(incident_id: int, body: NoteIn, service: Service, caller: Operator) -> IncidentOut:
    """Add a note to the timeline.

    Scope: operate."""
    return IncidentOut.of(await service.note(incident_id, by=caller.name, text=body.text))


@router.post("/{incident_id}/steps/{step_id}/done", response_model=IncidentOut)
async def step_done(
    incident_id: int,
    step_id: str,
    service: Service,
    caller: Operator,
    body: StepDoneIn | None = None,
) -> IncidentOut:
    """Mark a plan step done (a platform step that failed may be done by hand).

    Scope: operate."""
    comment = body.comment if body is not None else ""
    done = await service.step_done(incident_id, step_id, by=caller.name, comment=comment)
    return IncidentOut.of(done)


@router.post("/{incident_id}/escalate", response_model=IncidentOut)
async def escalate(
    incident_id: int, body: EscalateIn, service: Service, caller: Operator
) -> IncidentOut:
    """Escalate by hand: one level up, recorded, and the plan's escalation team told.

    Scope: operate."""
    return IncidentOut.of(await service.escalate(incident_id, by=caller.name, reason=body.reason))


@router.post("/{incident_id}/status", response_model=IncidentOut)
async def set_status(
    incident_id: int, body: StatusIn, service: Service, caller: Operator
) -> IncidentOut:
    """Move the incident along open → dispatched → on_site → resolved (a resolved one may go
    out again: dispatched); anything else is 409 naming what is allowed.

    Scope: operate."""
    moved = await service.set_status(
        incident_id, IncidentStatus(body.status), by=caller.name, comment=body.comment
    )
    return IncidentOut.of(moved)


@router.post("/{incident_id}/close", response_model=IncidentOut)
async def close(incident_id: int, body: CloseIn, service: Service, caller: Operator) -> IncidentOut:
    """Close a resolved incident with its short report.

    Scope: operate."""
    return IncidentOut.of(await service.close(incident_id, by=caller.name, report=body.report))
