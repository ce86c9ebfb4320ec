"""``/events``: the page's live updates as server-sent events, opened with a stream ticket.

``POST /events/ticket`` (bearer token, scope read) answers a ticket; ``GET /events?ticket=...``
streams ``alerts`` (the active alerts, whenever one fires, resolves, changes state or is
acknowledged) and ``presence`` (devices online per district, and each device's state, whenever
one changes), each as it is at the start and on every change, checked every ``interval_s``;
and ``incident`` (``{id, status, updated_at}``) whenever an incident is opened or changes (every
change leaves a timeline entry; the page then fetches ``GET /incidents/{id}``).
A stream ends when its token is revoked (event ``expired``); the page then asks for a new ticket.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from api.auth import Caller, require
from api.context import ApiContext, context
from api.models import AlertOut
from api.stream import StreamTickets, alerts_digest, presence_by_district
from api.tokens import Scope
from command import IncidentService

__all__ = ["events_router"]

log = logging.getLogger(__name__)

_HEARTBEAT_S = 15.0
_CHANGES_MAX = 1_000  # timeline entries read per look; more wait for the next one


def _event(name: str, data: object) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def incident_changes(
    service: IncidentService, after_id: int
) -> tuple[int, list[dict[str, object]]]:
    """The incidents with timeline entries after ``after_id``, as ``incident`` events' data,
    and the newest entry's id (where to look from next time)."""
    rows = await asyncio.to_thread(service.store.timeline_after, after_id, _CHANGES_MAX)
    if not rows:
        return after_id, []
    changed = dict.fromkeys(row.incident_id for row in rows)  # in the order they changed
    found = [await asyncio.to_thread(service.get, incident_id) for incident_id in changed]
    return rows[-1].entry.id, [
        {
            "id": incident.id,
            "status": incident.status.value,
            "updated_at": incident.updated_at.isoformat().replace("+00:00", "Z"),
        }
        for incident in found
    ]


def events_router(tickets: StreamTickets, *, interval_s: float) -> APIRouter:
    """The ticket and stream routes."""
    router = APIRouter(tags=["events"])

    @router.post("/events/ticket")
    async def ticket(caller: Annotated[Caller, Depends(require(Scope.READ))]) -> dict[str, object]:
        """A ticket to open one event stream within ``expires_in_s`` (EventSource cannot send
        a bearer token).

        Scope: read."""
        return {
            "ticket": tickets.issue(caller.token_id, caller.name),
            "expires_in_s": tickets.ttl_s,
        }

    @router.get("/events", response_class=StreamingResponse)
    async def events(
        request: Request, ctx: Annotated[ApiContext, Depends(context)], ticket: str
    ) -> StreamingResponse:
        """Server-sent events: ``alerts`` and ``presence``, at the start and on each change;
        ``incident`` (``{id, status, updated_at}``) when an incident is opened or changes.

        Needs a ticket from ``POST /events/ticket`` (used once, short-lived)."""
        holder = tickets.redeem(ticket)
        if holder is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "the stream ticket is unknown, used or expired"
            )
        log.info("api_stream_opened", extra={"token_id": holder.token_id})

        async def stream() -> AsyncIterator[bytes]:
            last_alerts: object = None
            last_presence: object = None
            incidents = ctx.incidents
            seen_entry = await asyncio.to_thread(incidents.store.last_entry_id) if incidents else 0
            quiet_s = 0.0
            yield b"retry: 2000\n\n"
            try:
                while not (
                    getattr(request.app.state, "stopping", False) or await request.is_disconnected()
                ):
                    live = await asyncio.to_thread(ctx.tokens.list)
                    if not any(record.id == holder.token_id for record in live):
                        yield _event("expired", {"reason": "the token was revoked"})
                        return
                    active = await asyncio.to_thread(ctx.alerts.alerts)
                    digest = alerts_digest(active)
                    if digest != last_alerts:
                        last_alerts = digest
                        quiet_s = 0.0
                        yield _event(
                            "alerts", [AlertOut.of(a).model_dump(mode="json") for a in active]
                        )
                    seen = ctx.presence.presence()
                    states = {
                        device_id: (seen[device_id].online if device_id in seen else None)
                        for device_id in ctx.registry
                    }
                    if states != last_presence:
                        last_presence = states
                        quiet_s = 0.0
                        yield _event(
                            "presence",
                            {
                                "districts": presence_by_district(ctx.registry, seen),
                                "devices": states,
                            },
                        )
                    if incidents is not None:
                        seen_entry, changed = await incident_changes(incidents, seen_entry)
                        for data in changed:
                            quiet_s = 0.0
                            yield _event("incident", data)
                    if quiet_s >= _HEARTBEAT_S:
                        quiet_s = 0.0
                        yield b": still here\n\n"
                    await asyncio.sleep(interval_s)
                    quiet_s += interval_s
            finally:
                log.info("api_stream_closed", extra={"token_id": holder.token_id})

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
