"""Scenarios: incidents and faults scheduled at simulated times.

A scenario file (YAML)::

    name: cabinet-power-cut
    description: At 02:10 cabinet C-02 loses power for 40 minutes.
    start: 2024-06-21T00:00:00+08:00   # optional: where the simulated clock starts
    duration: 6h                        # optional: how long the run lasts
    events:
      - {at: "02:10", incident: cabinet_power_cut, cabinet: C-02, for: 40m}

``at`` is a local clock time on the scenario's first day (``26:10`` is 02:10 the next day) or an
offset from the start (``+90m``); ``for`` and ``duration`` take ``s``, ``m``, ``h``, ``d``
(``1h30m``). Named scenarios ship in ``config/scenarios/``.

Long because: the scenario file's schema, its timeline and its loader belong together: the
loader's errors name the schema's fields and the timeline's times.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from devices import (
    DeviceRecord,
    SignalFault,
    SignalMode,
    YamlFileInvalid,
    line_of,
    read_with_lines,
    strip_lines,
    validation_problems,
)
from simulators.errors import ScenarioInvalid

__all__ = [
    "ActiveIncidents",
    "Incident",
    "IncidentKind",
    "Scenario",
    "Spill",
    "load_scenario",
    "parse_duration_s",
    "scenario_names",
]

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)
_CLOCK = re.compile(r"^(\d{1,3}):(\d{2})(?::(\d{2}))?$")


def parse_duration_s(text: str | float | int) -> float:
    """``"1h30m"`` → 5400.0; a bare number is seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    match = _DURATION.fullmatch(str(text))
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 40m, 1h30m, 2d")
    days, hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    return days * 86_400 + hours * 3_600 + minutes * 60 + seconds


class IncidentKind(StrEnum):
    """What can happen in a scenario."""

    CABINET_POWER_CUT = "cabinet_power_cut"
    LAMP_FAILURE = "lamp_failure"
    DRIVER_FAILURE = "driver_failure"
    LAMP_OVERHEATING = "lamp_overheating"
    MAINS_VOLTAGE = "mains_voltage"
    POLLUTION_SPILL = "pollution_spill"
    RAIN = "rain"
    JUNCTION_JAM = "junction_jam"
    SIGNAL_FAULT = "signal_fault"
    SIGNAL_MODE = "signal_mode"
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_BLIND = "camera_blind"
    STORAGE_FULL = "storage_full"
    SENSOR_FAULT = "sensor_fault"
    DROPOUT = "dropout"
    RECONNECT_STORM = "reconnect_storm"
    CLOCK_SKEW = "clock_skew"
    DUPLICATES = "duplicates"
    OUT_OF_ORDER = "out_of_order"


_NEEDS: dict[IncidentKind, tuple[str, ...]] = {
    IncidentKind.CABINET_POWER_CUT: ("cabinet",),
    IncidentKind.LAMP_FAILURE: ("device",),
    IncidentKind.DRIVER_FAILURE: ("device",),
    IncidentKind.LAMP_OVERHEATING: ("device",),
    IncidentKind.MAINS_VOLTAGE: ("voltage_v",),
    IncidentKind.POLLUTION_SPILL: ("river",),
    IncidentKind.RAIN: (),
    IncidentKind.JUNCTION_JAM: ("junction",),
    IncidentKind.SIGNAL_FAULT: ("fault",),
    IncidentKind.SIGNAL_MODE: ("mode",),
    IncidentKind.CAMERA_OFFLINE: ("device",),
    IncidentKind.CAMERA_BLIND: ("device",),
    IncidentKind.STORAGE_FULL: ("device",),
    IncidentKind.SENSOR_FAULT: ("device", "field", "fault_mode"),
    IncidentKind.DROPOUT: (),
    IncidentKind.RECONNECT_STORM: (),
    IncidentKind.CLOCK_SKEW: ("skew_s",),
    IncidentKind.DUPLICATES: (),
    IncidentKind.OUT_OF_ORDER: (),
}


class Incident(BaseModel):
    """One scheduled incident. Which target fields apply depends on ``incident``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    at: str
    incident: IncidentKind
    for_: str | float | None = Field(default=None, alias="for")
    # targets
    device: str | None = None
    cabinet: str | None = None
    junction: str | None = None
    district: str | None = None
    river: str | None = None
    section: str | None = None
    # parameters
    ammonia_mg_l: float = Field(default=6.0, ge=0, le=100)
    permanganate_mg_l: float = Field(default=10.0, ge=0, le=100)
    flow_m_s: float | None = Field(
        default=None, gt=0, le=10, description="spill: the river's flow; unset: the registry's"
    )
    dispersion_m2_s: float = Field(
        default=30.0, ge=0, le=1_000, description="spill: longitudinal dispersion coefficient"
    )
    intensity: float = Field(default=20.0, gt=0, le=200, description="rain: turbidity multiplier")
    capacity_pct: float = Field(default=15.0, ge=0, le=100, description="jam: capacity left")
    fault: SignalFault | None = None
    approach: str | None = None
    detail: str | None = Field(
        default=None, max_length=256, description="signal_fault: e.g. the colour of a lamp out"
    )
    thermal_resistance_x: float = Field(
        default=3.0, ge=1, le=20, description="lamp_overheating: the heat sink's R_th × this"
    )
    voltage_v: float | None = Field(
        default=None, ge=0, le=300, description="mains_voltage: what the cabinet's feed carries"
    )
    mode: SignalMode | None = None
    field_: str | None = Field(default=None, alias="field")
    fault_mode: Literal["stuck", "drift", "spike", "out_of_range"] | None = None
    drift_per_h: float = Field(default=0.2)
    skew_s: float | None = Field(default=None, ge=-86_400, le=86_400)
    probability: float = Field(default=0.2, ge=0, le=1)

    @field_validator("for_")
    @classmethod
    def _check_for(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_duration_s(value)
        return value


@dataclass(frozen=True, slots=True)
class Spill:
    """A pollution pulse entering a river at one section and travelling downstream."""

    river: str
    origin_section: str
    origin_order: int
    start_s: float
    width_s: float
    ammonia_mg_l: float
    permanganate_mg_l: float
    flow_m_s: float | None  # None: the river's own, from the registry
    dispersion_m2_s: float

    def width_at_s(self, distance_km: float, flow_m_s: float) -> float:
        """The pulse's width (s) after ``distance_km``: longitudinal dispersion adds
        ``2·D·x / u³`` to its variance in time (Taylor/Fischer), so it grows with the square
        root of the distance."""
        added_variance_s2 = 2.0 * self.dispersion_m2_s * distance_km * 1_000.0 / flow_m_s**3
        return math.sqrt(self.width_s**2 + 4.0 * added_variance_s2)

    def excess(self, distance_km: float, t: float, flow_m_s: float) -> tuple[float, float]:
        """Ammonia and permanganate above baseline ``distance_km`` downstream of the origin.

        The pulse arrives after the travel time at ``flow_m_s`` and spreads out as it goes;
        its peak falls as its width grows, peak × width constant, so the pollutant mass that
        passes each station (concentration integrated over time, at one flow) is the same:
        the river carries it, it does not make more.
        """
        if distance_km < 0:
            return 0.0, 0.0
        arrival = self.start_s + distance_km * 1_000.0 / (self.flow_m_s or flow_m_s)
        width = self.width_at_s(distance_km, self.flow_m_s or flow_m_s)
        # a pulse that rises over a quarter of its width and decays over the rest
        if t < arrival - width / 4 or t > arrival + 4 * width:
            return 0.0, 0.0
        if t < arrival:
            shape = 1.0 - (arrival - t) / (width / 4)
        else:
            shape = 2.0 ** (-(t - arrival) / (width / 2))
        peak = self.width_s / width
        return self.ammonia_mg_l * peak * shape, self.permanganate_mg_l * peak * shape


@dataclass(slots=True)
class ActiveIncidents:
    """What is going on at one simulated moment, indexed so each device checks a few sets."""

    cabinets_off: set[str] = field(default_factory=set)
    lamps_failed: set[str] = field(default_factory=set)
    spills: list[Spill] = field(default_factory=list)
    rain_factor: dict[str | None, float] = field(default_factory=dict)  # district (None: all)
    jams: dict[str, float] = field(default_factory=dict)  # junction → capacity fraction
    drivers_failed: set[str] = field(default_factory=set)
    overheating: dict[str, float] = field(default_factory=dict)  # lamp → R_th multiplier
    mains_v: dict[str, float] = field(default_factory=dict)  # cabinet or lamp → volts
    # junction or device → (fault, approach, detail)
    signal_faults: dict[str, list[tuple[SignalFault, str | None, str]]] = field(
        default_factory=dict
    )
    signal_modes: dict[str, SignalMode] = field(default_factory=dict)
    cameras_offline: set[str] = field(default_factory=set)
    cameras_blind: set[str] = field(default_factory=set)
    storage_full: dict[str, float] = field(default_factory=dict)  # device → since
    sensor_faults: dict[str, list[tuple[str, str, float, float]]] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)  # device ids and district names
    skew_s: dict[str, float] = field(default_factory=dict)
    duplicates: dict[str, float] = field(default_factory=dict)
    out_of_order: dict[str, float] = field(default_factory=dict)

    def rain(self, district: str) -> float:
        """Turbidity multiplier from rain over ``district`` (1.0 when dry)."""
        return max(self.rain_factor.get(district, 1.0), self.rain_factor.get(None, 1.0))

    def targets(self, table: dict[str, float] | set[str], record: DeviceRecord) -> bool:
        """Whether a device-or-district keyed table names this device."""
        return record.id in table or record.district in table or "*" in table

    def value(self, table: dict[str, float], record: DeviceRecord) -> float | None:
        """A device-or-district keyed value for this device, the device's own first."""
        for key in (record.id, record.district, "*"):
            if key in table:
                return table[key]
        return None


@dataclass(frozen=True, slots=True)
class _Scheduled:
    incident: Incident
    start_s: float
    end_s: float


class Scenario:
    """A named schedule of incidents, anchored to a start time and the city's time zone."""

    def __init__(
        self,
        name: str,
        incidents: Iterable[Incident],
        *,
        description: str = "",
        start: datetime | None = None,
        duration_s: float | None = None,
        source: str = "<scenario>",
    ) -> None:
        self.name = name
        self.description = description
        self.incidents = tuple(incidents)
        self.start = start
        self.duration_s = duration_s
        self.source = source
        self._scheduled: tuple[_Scheduled, ...] = ()

    def anchor(self, start_s: float, timezone: str) -> None:
        """Fix the incidents' times, given where the run starts and the city's time zone."""
        local = datetime.fromtimestamp(start_s, ZoneInfo(timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        scheduled = []
        for index, incident in enumerate(self.incidents):
            try:
                begin = _resolve_at(incident.at, start_s, midnight)
            except ValueError as exc:
                raise ScenarioInvalid(self.source, str(exc), index) from exc
            length = parse_duration_s(incident.for_) if incident.for_ is not None else None
            if length is None:
                length = 7_200.0 if incident.incident is IncidentKind.POLLUTION_SPILL else 1e12
            scheduled.append(_Scheduled(incident, begin, begin + length))
        self._scheduled = tuple(scheduled)

    def active(self, t: float) -> ActiveIncidents:
        """Every incident in force at epoch second ``t`` (``anchor`` first)."""
        now = ActiveIncidents()
        for item in self._scheduled:
            incident = item.incident
            if incident.incident is IncidentKind.POLLUTION_SPILL:
                if t >= item.start_s and incident.river is not None:
                    now.spills.append(_spill(incident, item))
                continue
            if not item.start_s <= t < item.end_s:
                continue
            _apply(now, incident, item, t)
        return now


def _spill(incident: Incident, item: _Scheduled) -> Spill:
    section = incident.section or "S1"
    digits = section.lstrip("Ss")
    return Spill(
        river=incident.river or "",
        origin_section=section,
        origin_order=int(digits) if digits.isdigit() else 1,
        start_s=item.start_s,
        width_s=item.end_s - item.start_s,
        ammonia_mg_l=incident.ammonia_mg_l,
        permanganate_mg_l=incident.permanganate_mg_l,
        flow_m_s=incident.flow_m_s,
        dispersion_m2_s=incident.dispersion_m2_s,
    )


def _where(incident: Incident) -> str:
    return incident.device or incident.junction or incident.district or "*"


def _apply(now: ActiveIncidents, incident: Incident, item: _Scheduled, t: float) -> None:
    kind = incident.incident
    if kind is IncidentKind.CABINET_POWER_CUT and incident.cabinet:
        now.cabinets_off.add(incident.cabinet)
    elif kind is IncidentKind.LAMP_FAILURE and incident.device:
        now.lamps_failed.add(incident.device)
    elif kind is IncidentKind.DRIVER_FAILURE and incident.device:
        now.drivers_failed.add(incident.device)
    elif kind is IncidentKind.LAMP_OVERHEATING and incident.device:
        now.overheating[incident.device] = incident.thermal_resistance_x
    elif kind is IncidentKind.MAINS_VOLTAGE and incident.voltage_v is not None:
        now.mains_v[incident.device or incident.cabinet or "*"] = incident.voltage_v
    elif kind is IncidentKind.RAIN:
        # rain raises turbidity fast, then it settles over the hours after
        elapsed_h = (t - item.start_s) / 3_600.0
        factor = 1.0 + (incident.intensity - 1.0) * min(1.0, elapsed_h * 2) * 2.0 ** (
            -max(0.0, elapsed_h - 0.5) / 2.0
        )
        key = incident.district
        now.rain_factor[key] = max(now.rain_factor.get(key, 1.0), factor)
    elif kind is IncidentKind.JUNCTION_JAM and incident.junction:
        now.jams[incident.junction] = incident.capacity_pct / 100.0
    elif kind is IncidentKind.SIGNAL_FAULT and incident.fault is not None:
        now.signal_faults.setdefault(_where(incident), []).append(
            (incident.fault, incident.approach, incident.detail or "")
        )
    elif kind is IncidentKind.SIGNAL_MODE and incident.mode is not None:
        now.signal_modes[_where(incident)] = incident.mode
    elif kind is IncidentKind.CAMERA_OFFLINE and incident.device:
        now.cameras_offline.add(incident.device)
    elif kind is IncidentKind.CAMERA_BLIND and incident.device:
        now.cameras_blind.add(incident.device)
    elif kind is IncidentKind.STORAGE_FULL and incident.device:
        now.storage_full[incident.device] = item.start_s
    elif kind is IncidentKind.SENSOR_FAULT and incident.device and incident.field_:
        now.sensor_faults.setdefault(incident.device, []).append(
            (incident.field_, incident.fault_mode or "stuck", item.start_s, incident.drift_per_h)
        )
    elif kind in (IncidentKind.DROPOUT, IncidentKind.RECONNECT_STORM):
        now.dropped.add(_where(incident))
    elif kind is IncidentKind.CLOCK_SKEW and incident.skew_s is not None:
        now.skew_s[_where(incident)] = incident.skew_s
    elif kind is IncidentKind.DUPLICATES:
        now.duplicates[_where(incident)] = incident.probability
    elif kind is IncidentKind.OUT_OF_ORDER:
        now.out_of_order[_where(incident)] = incident.probability


def _resolve_at(text: str, start_s: float, midnight_s: float) -> float:
    text = text.strip()
    if text.startswith("+"):
        return start_s + parse_duration_s(text[1:])
    match = _CLOCK.fullmatch(text)
    if not match:
        raise ValueError(f"at {text!r} is neither a clock time like 02:10 nor an offset like +90m")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    if minutes > 59 or seconds > 59:
        raise ValueError(f"at {text!r} is not a clock time")
    moment = midnight_s + hours * 3_600 + minutes * 60 + seconds
    if moment < start_s:
        raise ValueError(f"at {text!r} is before the scenario starts")
    return float(moment)


_TOP_LEVEL_KEYS = frozenset({"name", "description", "start", "duration", "events"})


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; errors name the file, the line, the event and the
    field."""
    where = str(path)
    try:
        document = read_with_lines(path)
    except YamlFileInvalid as exc:
        raise ScenarioInvalid(where, exc.reason, line=exc.line) from exc
    if not isinstance(document, dict):
        raise ScenarioInvalid(where, "expected a mapping with 'name' and 'events'", line=1)
    unknown = set(strip_lines(document)) - _TOP_LEVEL_KEYS
    if unknown:
        first = sorted(map(str, unknown))
        raise ScenarioInvalid(
            where, f"unknown keys: {', '.join(first)}", line=line_of(document, [first[0]])
        )
    events = document.get("events") or []
    if not isinstance(events, list):
        raise ScenarioInvalid(where, "'events' must be a list", line=line_of(document, ["events"]))
    incidents = []
    for index, event in enumerate(events):
        try:
            incident = Incident.model_validate(strip_lines(event))
        except ValidationError as exc:
            problem = validation_problems(exc)[0]
            line = line_of(document, ["events", index, *problem.location])
            raise ScenarioInvalid(where, problem.sentence, index, line) from exc
        missing = [
            name
            for name in _NEEDS[incident.incident]
            if getattr(incident, name if hasattr(incident, name) else name + "_") is None
        ]
        if missing:
            needs = f"{incident.incident.value} needs {', '.join(missing)}"
            raise ScenarioInvalid(where, needs, index, line_of(document, ["events", index]))
        incidents.append(incident)
    start = document.get("start")
    if start is not None and not isinstance(start, datetime):
        try:
            start = datetime.fromisoformat(str(start))
        except ValueError as exc:
            raise ScenarioInvalid(
                where, f"start {start!r} is not an ISO date-time", line=line_of(document, ["start"])
            ) from exc
    if start is not None and start.tzinfo is None:
        raise ScenarioInvalid(
            where,
            "start needs a UTC offset, e.g. 2024-06-21T00:00:00+08:00",
            line=line_of(document, ["start"]),
        )
    duration = document.get("duration")
    try:
        duration_s = parse_duration_s(duration) if duration is not None else None
    except ValueError as exc:
        raise ScenarioInvalid(
            where, f"duration: {exc}", line=line_of(document, ["duration"])
        ) from exc
    return Scenario(
        str(document.get("name") or Path(path).stem),
        incidents,
        description=str(document.get("description") or ""),
        start=start,
        duration_s=duration_s,
        source=where,
    )


def scenario_names(folder: str | Path) -> list[str]:
    """The named scenarios shipped in a folder (file stems)."""
    return sorted(path.stem for path in Path(folder).glob("*.yaml"))
