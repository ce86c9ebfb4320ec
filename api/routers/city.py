"""The city for the page: the map (devices and approximate district outlines) and presence
per district (scope read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import require
from api.context import ApiContext, context
from api.geo import city_map
from api.stream import presence_by_district
from api.tokens import Scope

__all__ = ["router"]

router = APIRouter(prefix="/city", tags=["city"], dependencies=[Depends(require(Scope.READ))])

Context = Annotated[ApiContext, Depends(context)]


@router.get("/map")
async def the_map(ctx: Context) -> dict[str, object]:
    """The city's centre, every device at its place (``approximate`` when the registry has no
    coordinates), and each district's outline as GeoJSON: the convex hull of its devices with
    a margin, approximate by construction.

    Scope: read."""
    found = city_map(ctx.registry)
    return {
        "city": {"name": found.name, "latitude": found.latitude, "longitude": found.longitude},
        "devices": [
            {
                "id": d.id,
                "kind": d.kind,
                "district": d.district,
                "latitude": d.latitude,
                "longitude": d.longitude,
                "approximate": d.approximate,
            }
            for d in found.devices
        ],
        "districts": found.districts,
    }


@router.get("/presence")
async def presence(ctx: Context) -> dict[str, object]:
    """Per district: devices, online, offline, never heard; and each device's state
    (true online, false offline, null never heard).

    Scope: read."""
    seen = ctx.presence.presence()
    states: dict[str, bool | None] = {}
    for device_id in ctx.registry:
        found = seen.get(device_id)
        states[device_id] = found.online if found is not None else None
    return {"districts": presence_by_district(ctx.registry, seen), "devices": states}
