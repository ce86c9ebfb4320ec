"""``/healthz``: each dependency's state; 200 when all are up, 503 when any is not. No token:
load balancers and ``smartcity status`` ask it, and it tells no secret."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.context import ApiContext, context
from api.models import HealthOut

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz(response: Response, ctx: Annotated[ApiContext, Depends(context)]) -> HealthOut:
    """Each dependency's state: broker, InfluxDB, alert store, gateway (when in-process).

    No token needed."""
    results = await asyncio.gather(*(check.check() for check in ctx.health))
    ok = all(result.ok for result in results)
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if ok else "degraded",
        dependencies={result.name: {"ok": result.ok, **result.detail} for result in results},
    )
