"""Where a spill goes next: the stations and intakes downstream, in river order, with the
time the spill should reach each from the stretch lengths and the flow.

The prediction works on a small frozen value, ``RiverCourse`` (ordered places with their
distance along the river), built from the registry by ``river_course``: a later change to how
the registry names rivers, stretches or flow is a change to that one function.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from command.model import SpillForecast, Waypoint, WaypointState
from command.rules import Intake, RiverWater
from devices import Kind, Registry

__all__ = [
    "CoursePoint",
    "RiverCourse",
    "forecast_from_json",
    "forecast_json",
    "river_course",
]


@dataclass(frozen=True, slots=True)
class CoursePoint:
    """A station or intake and its distance along the river (``None``: lengths unknown)."""

    name: str
    kind: str  # "station" or "intake"
    section: str
    order: int  # river order of its section: larger is further downstream
    km: float | None


@dataclass(frozen=True, slots=True)
class RiverCourse:
    """A river's monitored places from upstream down, and its flow."""

    river: str
    flow_m_s: float | None
    points: tuple[CoursePoint, ...]

    def point(self, name: str) -> CoursePoint | None:
        """A station or intake by name."""
        return next((p for p in self.points if p.name == name), None)

    def downstream_of(self, name: str) -> tuple[CoursePoint, ...]:
        """Every place below ``name``, in river order."""
        here = self.point(name)
        if here is None:
            return ()
        return tuple(p for p in self.points if _below(p, here))

    def has_intake_below(self, section: str) -> bool:
        """Whether a waterworks intake lies at or below this section."""
        orders = [p.order for p in self.points if p.section == section]
        if not orders:
            return False
        return any(p.kind == "intake" and p.order >= min(orders) for p in self.points)

    def travel(self, from_km: float | None, to_km: float | None) -> timedelta | None:
        """How long the river takes from one place to another."""
        if from_km is None or to_km is None or not self.flow_m_s:
            return None
        return timedelta(seconds=(to_km - from_km) * 1_000.0 / self.flow_m_s)

    def forecast(self, origin: str, seen_at: datetime) -> SpillForecast | None:
        """The places a spill first seen at station ``origin`` reaches next, and when."""
        here = self.point(origin)
        if here is None:
            return None
        waypoints = []
        for place in self.downstream_of(origin):
            travel = self.travel(here.km, place.km)
            waypoints.append(
                Waypoint(
                    name=place.name,
                    kind=place.kind,
                    section=place.section,
                    km_from_origin=round(place.km - here.km, 3)
                    if place.km is not None and here.km is not None
                    else 0.0,
                    expected_at=seen_at + travel if travel is not None else None,
                )
            )
        return SpillForecast(
            river=self.river,
            origin=origin,
            origin_section=here.section,
            seen_at=seen_at,
            flow_m_s=self.flow_m_s,
            waypoints=tuple(waypoints),
        )

    def confirm(self, forecast: SpillForecast, station: str, at: datetime) -> SpillForecast:
        """A station downstream saw the spill: mark it, and time the places below it from it."""
        here = self.point(station)
        index = next((i for i, w in enumerate(forecast.waypoints) if w.name == station), None)
        if here is None or index is None:
            return forecast
        if forecast.waypoints[index].state is WaypointState.CONFIRMED:
            return forecast
        waypoints = list(forecast.waypoints)
        waypoints[index] = dataclasses.replace(
            waypoints[index], state=WaypointState.CONFIRMED, seen_at=at
        )
        for later in range(index + 1, len(waypoints)):
            point = waypoints[later]
            if point.state is not WaypointState.EXPECTED:
                continue
            travel = self.travel(here.km, _km(self, point.name))
            if travel is not None:
                waypoints[later] = dataclasses.replace(point, expected_at=at + travel)
        return dataclasses.replace(forecast, waypoints=tuple(waypoints))

    def overdue(self, forecast: SpillForecast, now: datetime, margin: timedelta) -> SpillForecast:
        """Stations still expected past their time plus ``margin`` are missed (intakes are not
        stations: nothing there reports, so they stay expected)."""
        waypoints = tuple(
            dataclasses.replace(w, state=WaypointState.MISSED)
            if w.kind == "station"
            and w.state is WaypointState.EXPECTED
            and w.expected_at is not None
            and now > w.expected_at + margin
            else w
            for w in forecast.waypoints
        )
        if waypoints == forecast.waypoints:
            return forecast
        return dataclasses.replace(forecast, waypoints=waypoints)


def _below(place: CoursePoint, here: CoursePoint) -> bool:
    if place.km is not None and here.km is not None:
        return place.km > here.km
    return place.order > here.order or (place.order == here.order and place.kind == "intake")


def _km(course: RiverCourse, name: str) -> float | None:
    point = course.point(name)
    return point.km if point is not None else None


def river_course(
    registry: Registry,
    river: str,
    *,
    intakes: Iterable[Intake] = (),
    fallback: RiverWater | None = None,
) -> RiverCourse:
    """The river's stations (registry order of sections) and intakes, with their distance
    along the river from the stretch lengths: the registry's ``waters`` when it has them,
    else ``fallback`` (the incident rules' ``rivers:``)."""
    water = _registry_water(registry, river) or fallback
    stretches = [(s.name, s.length_km) for s in water.sections] if water is not None else []
    end_km: dict[str, float] = {}
    total = 0.0
    for name, length_km in stretches:
        total += length_km
        end_km[name] = total
    stations = sorted(
        (
            record
            for record in registry.of_kind(Kind.WATER_QUALITY)
            if record.river == river and record.section is not None
        ),
        key=lambda record: (record.section_order or 0, record.id),
    )
    order_of = {record.section: record.section_order or 0 for record in stations}
    points = [
        CoursePoint(
            name=record.id,
            kind="station",
            section=str(record.section),
            order=record.section_order or 0,
            km=end_km.get(str(record.section)),
        )
        for record in stations
    ]
    for intake in intakes:
        if intake.river != river or intake.section not in order_of:
            continue
        at_km = end_km.get(intake.section)
        points.append(
            CoursePoint(
                name=intake.name,
                kind="intake",
                section=intake.section,
                order=order_of[intake.section],
                km=at_km + intake.km_below_section if at_km is not None else None,
            )
        )
    points.sort(key=lambda p: (p.order, p.km if p.km is not None else 0.0, p.kind != "station"))
    flow = water.flow_m_s if water is not None else None
    return RiverCourse(river=river, flow_m_s=flow, points=tuple(points))


def _registry_water(registry: Registry, river: str) -> RiverWater | None:
    """The registry's stretches and flow of a river, when it carries ``waters`` (a registry
    with rivers, lakes and reservoirs: ``waters[name].sections[i].length_km``, ``flow_m_s``)."""
    waters: Any = getattr(registry, "waters", None) or {}
    body = waters.get(river)
    if body is None or not getattr(body, "sections", None):
        return None
    return RiverWater.model_validate(
        {
            "name": river,
            "flow_m_s": body.flow_m_s,
            "sections": [{"name": s.name, "length_km": s.length_km} for s in body.sections],
        }
    )


def forecast_json(forecast: SpillForecast | None) -> str | None:
    if forecast is None:
        return None
    return json.dumps(
        {
            "river": forecast.river,
            "origin": forecast.origin,
            "origin_section": forecast.origin_section,
            "seen_at": forecast.seen_at.timestamp(),
            "flow_m_s": forecast.flow_m_s,
            "waypoints": [
                {
                    "name": w.name,
                    "kind": w.kind,
                    "section": w.section,
                    "km_from_origin": w.km_from_origin,
                    "expected_at": _ts(w.expected_at),
                    "state": w.state.value,
                    "seen_at": _ts(w.seen_at),
                }
                for w in forecast.waypoints
            ],
        }
    )


def forecast_from_json(text: str | None) -> SpillForecast | None:
    if not text:
        return None
    data = json.loads(text)
    return SpillForecast(
        river=data["river"],
        origin=data["origin"],
        origin_section=data["origin_section"],
        seen_at=_dt(data["seen_at"]) or datetime.now(UTC),
        flow_m_s=data["flow_m_s"],
        waypoints=tuple(
            Waypoint(
                name=w["name"],
                kind=w["kind"],
                section=w["section"],
                km_from_origin=float(w["km_from_origin"]),
                expected_at=_dt(w["expected_at"]),
                state=WaypointState(w["state"]),
                seen_at=_dt(w["seen_at"]),
            )
            for w in data["waypoints"]
        ),
    )


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), tz=UTC) if value is not None else None
