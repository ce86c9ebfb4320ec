"""The operators' page's own routes: the charts' series and the live events.

The charts run the Grafana dashboards' own InfluxQL where they overlap: each series below names
the dashboard and panel it takes its query from, and a dashboard that loses or renames that panel
fails the start here (and in the tests), rather than drifting apart from the page.
"""

from __future__ import annotations

from fastapi import APIRouter

from api import (
    Band,
    InfluxReader,
    SeriesQuery,
    StreamTickets,
    events_router,
    series_router,
)
from dashboards import BuiltDashboard
from devices import WATER_CLASS_LIMITS, Registry
from smartcity.assembly.dashboards import build_dashboards
from smartcity.settings import Settings

__all__ = ["page_routers", "page_series"]

_CLASS_NAMES = ("I", "II", "III", "IV", "V")


def _panel_query(built: tuple[BuiltDashboard, ...], uid: str, title: str) -> str:
    for board in built:
        if board.uid != uid:
            continue
        for panel in board.panels:
            if panel.title == title and panel.queries:
                return panel.queries[0].text
    raise LookupError(f"dashboard {uid} has no panel {title!r}; the page's chart takes its query")


def page_series(settings: Settings, registry: Registry) -> tuple[SeriesQuery, ...]:
    """The series the page charts, with the dashboards' queries and the water class limits."""
    built = build_dashboards(settings, registry)
    series = [
        SeriesQuery(
            name="cabinet-power",
            title="Power of the cabinet's lamps",
            unit="W",
            variable="cabinet",
            query=_panel_query(built, "smartcity-streetlights", "Power per cabinet"),
            source="smartcity-streetlights / Power per cabinet",
        ),
        SeriesQuery(
            name="junction-queue",
            title="Longest queue per approach",
            unit="veh",
            variable="junction",
            query=_panel_query(
                built, "smartcity-traffic", "Longest queue per junction and approach"
            ),
            source="smartcity-traffic / Longest queue per junction and approach",
        ),
    ]
    for limit in WATER_CLASS_LIMITS:
        title = f"{limit.field} per station"
        series.append(
            SeriesQuery(
                name=f"station-{limit.field}",
                title=f"{limit.field} against GB 3838-2002 classes",
                unit="mg/L" if limit.field.endswith("_mg_l") else "",
                variable="station",
                query=_panel_query(built, "smartcity-water", title),
                source=f"smartcity-water / {title}",
                bands=tuple(
                    Band(label, value, limit.at_least)
                    for label, value in zip(_CLASS_NAMES, limit.limits, strict=True)
                ),
            )
        )
    series.append(
        SeriesQuery(
            name="station-ph",
            title="pH (every class: 6 to 9)",
            unit="pH",
            variable="station",
            query=_panel_query(built, "smartcity-water", "ph per station"),
            source="smartcity-water / ph per station",
            bands=(Band("min", 6.0, True), Band("max", 9.0, False)),
        )
    )
    return tuple(series)


def page_routers(
    settings: Settings, registry: Registry, *, influx_url: str | None
) -> list[APIRouter]:
    """The charts (when there is an InfluxDB to read) and the live events; acknowledgements and
    silences are the API's own routes."""
    routers = [
        events_router(
            StreamTickets(ttl_s=settings.api_stream_ticket_ttl_s),
            interval_s=settings.api_events_interval_s,
        ),
    ]
    if influx_url is not None:
        reader = InfluxReader(
            influx_url,
            database=settings.influx_database,
            timeout_s=settings.influx_timeout_s,
            username=settings.influx_username,
            password=settings.influx_password.get_secret_value()
            if settings.influx_password
            else None,
            token=settings.influx_token.get_secret_value()
            if settings.influx_api == "v2" and settings.influx_token
            else None,
        )
        routers.append(series_router(page_series(settings, registry), reader))
    return routers
