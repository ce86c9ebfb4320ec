"""Devices: the registry's fleet with each device's presence (scope read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from api.auth import require
from api.context import ApiContext, context
from api.models import DeviceList, DeviceOut
from api.tokens import Scope
from devices import Kind

__all__ = ["router"]

router = APIRouter(prefix="/devices", tags=["devices"], dependencies=[Depends(require(Scope.READ))])

Context = Annotated[ApiContext, Depends(context)]


@router.get("", response_model=DeviceList)
async def list_devices(
    ctx: Context,
    district: str | None = None,
    kind: Kind | None = None,
    cabinet: str | None = None,
    junction: str | None = None,
    online: Annotated[
        bool | None, Query(description="true: online; false: offline or never heard")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeviceList:
    """Devices in registry order, with presence; ``total`` and ``online`` count every match.

    Scope: read."""
    presence = ctx.presence.presence()
    total = online_count = 0
    page: list[DeviceOut] = []
    for device in ctx.registry.values():
        if (
            (district is not None and device.district != district)
            or (kind is not None and device.kind is not kind)
            or (cabinet is not None and device.cabinet != cabinet)
            or (junction is not None and device.junction != junction)
        ):
            continue
        seen = presence.get(device.id)
        is_online = bool(seen and seen.online)
        if online is not None and is_online is not online:
            continue
        # only the page is turned into answers: a city of 100,000 is counted, not copied
        if offset <= total < offset + limit:
            page.append(DeviceOut.of(device, seen))
        total += 1
        online_count += is_online
    return DeviceList(total=total, online=online_count, devices=page)


@router.get("/{device_id}", response_model=DeviceOut)
async def one_device(ctx: Context, device_id: str) -> DeviceOut:
    """One device with its presence.

    Scope: read."""
    device = ctx.registry.get(device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id} in the registry")
    return DeviceOut.of(device, ctx.presence.presence().get(device_id))
