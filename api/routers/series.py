"""``/series``: the charts the page draws, by name; the queries are the dashboards' (scope
read). The browser names a series and a key, never InfluxQL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from api.auth import require
from api.series import InfluxReader, SeriesQuery, SeriesUnavailable, expand
from api.tokens import Scope

__all__ = ["series_router"]

_KEY = r"^[A-Za-z0-9_.-]{1,64}$"


def _described(series: SeriesQuery) -> dict[str, object]:
    return {
        "name": series.name,
        "title": series.title,
        "unit": series.unit,
        "key": series.variable,
        "source": series.source,
        "bands": [
            {"label": b.label, "value": b.value, "at_least": b.at_least} for b in series.bands
        ],
    }


def series_router(catalogue: Sequence[SeriesQuery], reader: InfluxReader) -> APIRouter:
    """The routes over ``catalogue``, read through ``reader``."""
    by_name = {series.name: series for series in catalogue}
    router = APIRouter(
        prefix="/series", tags=["series"], dependencies=[Depends(require(Scope.READ))]
    )

    @router.get("")
    async def list_series() -> list[dict[str, object]]:
        """The series there are: name, title, unit, the key they take, where the query is from
        (dashboard and panel), class bands.

        Scope: read."""
        return [_described(series) for series in catalogue]

    @router.get("/{name}")
    async def one_series(
        name: str,
        key: Annotated[str, Query(pattern=_KEY, description="a cabinet, station or junction")],
        range_s: Annotated[int, Query(ge=60, le=30 * 86_400)] = 3_600,
        points: Annotated[int, Query(ge=10, le=2_000)] = 300,
    ) -> dict[str, object]:
        """One series for one key over the last ``range_s`` seconds: one line per returned
        series (e.g. per approach), ``times_ms`` and ``values``.

        Scope: read."""
        series = by_name.get(name)
        if series is None:
            known = ", ".join(sorted(by_name))
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no series {name}; there are {known}")
        end_ms = int(time.time() * 1000)
        query = expand(series, key, start_ms=end_ms - range_s * 1000, end_ms=end_ms, points=points)
        try:
            lines = await reader.lines(query)
        except SeriesUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
        return {
            **_described(series),
            "for": key,
            "range_s": range_s,
            "lines": [
                {"label": line.label, "times_ms": line.times_ms, "values": line.values}
                for line in lines
            ],
        }

    return router
