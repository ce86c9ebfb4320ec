"""Fleet files: a city described by counts, turned into a registry of devices.

A fleet file (YAML)::

    city: {name: Dongguan, latitude: 23.0207, longitude: 113.7518, timezone: Asia/Shanghai}
    districts:
      - {name: guancheng, latitude: 23.046, longitude: 113.749, streetlights: 24,
         lights_per_cabinet: 8, junctions: 3, checkpoints: 4,
         flash_schedules: [null, "01:00-05:00", "23:30-05:30"]}
    rivers:
      - {name: zhongtang-waterway, type: river, flow_m_s: 0.4, districts: [zhongtang],
         section_lengths_km: [1.4, 1.5, 1.6], from: [23.101, 113.612], to: [23.085, 113.671],
         target_class: III}
      - {name: songshan-lake, type: lake, sections: 2, districts: [songshan-lake],
         from: [22.935, 113.880], to: [22.918, 113.905], target_class: III}

Generation is deterministic: the same file gives the same registry, ids and all. Ids are
``SL-0001`` (streetlights), ``WQ-0001``, ``TS-0001``, ``CP-0001``; cabinets ``C-01``; junctions
``J-01``; river sections ``S1`` … ``Sn`` in their order along the river (1 is upstream), a
lake's stations ``L1`` … ``Ln``. Devices get coordinates: scattered within ``radius_km`` of their
district's centre, water stations along the line from ``from`` to ``to``. A district's
``flash_schedules`` go to its junctions in turn (the list repeats): each signal's registry
``flash_schedule``, the local hours it flashes amber, or ``null`` for one that never does.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from devices import (
    City,
    DeviceRecord,
    Kind,
    Registry,
    RiverStretch,
    WaterBody,
    WaterBodyType,
    WaterClass,
    YamlFileInvalid,
    load_yaml_model,
    parse_local_span,
)
from simulators.errors import FleetFileInvalid
from simulators.rand import uniform

__all__ = [
    "DistrictSpec",
    "FleetSpec",
    "RiverSpec",
    "generate_registry",
    "load_fleet_registry",
    "load_fleet_spec",
    "scaled_fleet_spec",
]

APPROACHES = ("north", "east", "south", "west")
_NAME = r"^[a-z0-9-]{1,32}$"


class DistrictSpec(BaseModel):
    """How many devices of each kind a district has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    latitude: float | None = Field(default=None, ge=-90, le=90, description="the centre")
    longitude: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float = Field(default=1.5, gt=0, le=50, description="devices lie within it")
    streetlights: int = Field(default=0, ge=0)
    lights_per_cabinet: int = Field(default=40, ge=1, le=10_000)
    junctions: int = Field(default=0, ge=0, description="one traffic signal per junction")
    checkpoints: int = Field(default=0, ge=0)
    flash_schedules: tuple[str | None, ...] = Field(
        default=(),
        description="the junctions' flash_schedule in turn (HH:MM-HH:MM local, or null: never"
        " flashes); none given: no junction flashes",
    )

    @field_validator("flash_schedules")
    @classmethod
    def _check_schedules(cls, value: tuple[str | None, ...]) -> tuple[str | None, ...]:
        for schedule in value:
            if schedule is not None:
                parse_local_span(schedule)
        return value

    def flash_schedule(self, index: int) -> str | None:
        """The flash schedule of the district's ``index``-th junction (the list in turn)."""
        return (
            self.flash_schedules[index % len(self.flash_schedules)]
            if self.flash_schedules
            else None
        )


class RiverSpec(BaseModel):
    """A water body: a river's sections in order from upstream (1), each with its length, and
    the stations on each; or a lake or reservoir with its stations."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    type: WaterBodyType = WaterBodyType.RIVER
    sections: int | None = Field(default=None, ge=1, le=10_000)
    section_lengths_km: tuple[float, ...] | None = Field(default=None, min_length=1)
    flow_m_s: float | None = Field(default=None, gt=0, le=10)
    stations_per_section: int = Field(default=1, ge=1, le=100)
    districts: tuple[str, ...] = Field(min_length=1)
    target_class: WaterClass = WaterClass.III
    start: tuple[float, float] | None = Field(default=None, alias="from")
    end: tuple[float, float] | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _check_sections(self) -> RiverSpec:
        lengths = self.section_lengths_km
        if lengths is not None:
            if self.type is not WaterBodyType.RIVER:
                raise ValueError(f"a {self.type.value} has no section_lengths_km")
            if self.sections is not None and self.sections != len(lengths):
                raise ValueError("sections and section_lengths_km disagree")
            if any(length <= 0 for length in lengths):
                raise ValueError("section lengths must be positive")
        elif self.sections is None:
            raise ValueError("give sections or section_lengths_km")
        if self.flow_m_s is not None and self.type is not WaterBodyType.RIVER:
            raise ValueError(f"a {self.type.value} has no flow_m_s")
        return self

    @property
    def section_count(self) -> int:
        """How many sections (river) or station sites (lake, reservoir) it has."""
        return len(self.section_lengths_km) if self.section_lengths_km else self.sections or 1

    def water_body(self) -> WaterBody:
        """The registry's entry for it: type, and a river's stretches and flow."""
        stretches: tuple[RiverStretch, ...] = ()
        if self.type is WaterBodyType.RIVER and self.section_lengths_km:
            stretches = tuple(
                RiverStretch(name=f"S{order}", length_km=length)
                for order, length in enumerate(self.section_lengths_km, start=1)
            )
        return WaterBody(name=self.name, type=self.type, flow_m_s=self.flow_m_s, sections=stretches)


class FleetSpec(BaseModel):
    """A whole city: where it is, its districts and rivers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    city: City = City()
    districts: tuple[DistrictSpec, ...] = Field(min_length=1)
    rivers: tuple[RiverSpec, ...] = ()

    @model_validator(mode="after")
    def _check_names(self) -> FleetSpec:
        names = [district.name for district in self.districts]
        if len(set(names)) != len(names):
            raise ValueError("district names must be unique")
        for river in self.rivers:
            unknown = [name for name in river.districts if name not in names]
            if unknown:
                raise ValueError(
                    f"river {river.name!r} runs through unknown district {unknown[0]!r}"
                )
        return self

    def device_count(self) -> int:
        """How many devices the fleet will have."""
        return sum(d.streetlights + d.junctions + d.checkpoints for d in self.districts) + sum(
            r.section_count * r.stations_per_section for r in self.rivers
        )


def load_fleet_spec(path: str | Path) -> FleetSpec:
    """Read and validate a fleet file; errors name the file, the line and the field."""
    try:
        return load_yaml_model(path, FleetSpec)
    except YamlFileInvalid as exc:
        raise FleetFileInvalid(exc.path, exc.reason, exc.line) from exc


def scaled_fleet_spec(devices: int, *, city: City | None = None) -> FleetSpec:
    """A plausible city of about ``devices`` devices: mostly lights, a few stations.

    Proportions follow a mid-sized city: 85 % streetlights, 6 % signals, 8 % checkpoints, 1 %
    water stations; one district per ~2,500 devices, 40 lights a cabinet.
    """
    if devices < 8:
        raise FleetFileInvalid("<generated>", "a generated fleet needs at least 8 devices")
    district_count = max(2, math.ceil(devices / 2_500))
    water = max(4, devices // 100)
    sections = max(4, min(200, water // 2))
    per_section = max(1, water // sections)
    rest = devices - sections * per_section
    junctions = max(1, rest * 6 // 100)
    checkpoints = max(1, rest * 8 // 100)
    lights = max(1, rest - junctions - checkpoints)
    districts = []
    for index in range(district_count):
        districts.append(
            DistrictSpec(
                name=f"district-{index + 1:0{len(str(district_count))}d}",
                streetlights=_share(lights, district_count, index),
                lights_per_cabinet=40,
                junctions=_share(junctions, district_count, index),
                flash_schedules=_GENERATED_FLASH_SCHEDULES,
                checkpoints=_share(checkpoints, district_count, index),
            )
        )
    river = RiverSpec(
        name="main",
        sections=sections,
        stations_per_section=per_section,
        districts=tuple(d.name for d in districts[: max(1, district_count // 2)]),
    )
    return FleetSpec(city=city or City(), districts=tuple(districts), rivers=(river,))


# a generated city: most junctions flash in the small hours, some longer, arterials never
_GENERATED_FLASH_SCHEDULES = ("01:00-05:00", None, "00:00-06:00", "01:00-05:00")


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def generate_registry(spec: FleetSpec) -> Registry:
    """The registry of a fleet: one record per device, deterministic for a given spec."""
    width = {
        Kind.STREETLIGHT: _width(sum(d.streetlights for d in spec.districts)),
        Kind.TRAFFIC_SIGNAL: _width(sum(d.junctions for d in spec.districts)),
        Kind.CHECKPOINT: _width(sum(d.checkpoints for d in spec.districts)),
        Kind.WATER_QUALITY: _width(
            sum(r.section_count * r.stations_per_section for r in spec.rivers)
        ),
    }
    prefix = {
        Kind.STREETLIGHT: "SL",
        Kind.TRAFFIC_SIGNAL: "TS",
        Kind.CHECKPOINT: "CP",
        Kind.WATER_QUALITY: "WQ",
    }
    counters = dict.fromkeys(Kind, 0)

    def next_id(kind: Kind) -> str:
        counters[kind] += 1
        return f"{prefix[kind]}-{counters[kind]:0{width[kind]}d}"

    cabinet_total = sum(math.ceil(d.streetlights / d.lights_per_cabinet) for d in spec.districts)
    junction_total = sum(d.junctions for d in spec.districts)
    cabinet_width = max(2, len(str(cabinet_total)))
    junction_width = max(2, len(str(junction_total)))
    records: list[DeviceRecord] = []
    cabinet_number = 0
    junction_number = 0
    for district in spec.districts:
        for index in range(district.streetlights):
            if index % district.lights_per_cabinet == 0:
                cabinet_number += 1
            device_id = next_id(Kind.STREETLIGHT)
            rated = (60.0, 100.0, 150.0, 250.0)[int(uniform(counters[Kind.STREETLIGHT], 7) * 4)]
            records.append(
                DeviceRecord(
                    id=device_id,
                    kind=Kind.STREETLIGHT,
                    district=district.name,
                    cabinet=f"C-{cabinet_number:0{cabinet_width}d}",
                    rated_power_w=rated,
                    **_place(district, 1, counters[Kind.STREETLIGHT]),
                )
            )
        junctions: list[str] = []
        junction_places: dict[str, dict[str, float]] = {}
        for index in range(district.junctions):
            junction_number += 1
            junction = f"J-{junction_number:0{junction_width}d}"
            junctions.append(junction)
            junction_places[junction] = _place(district, 2, junction_number)
            records.append(
                DeviceRecord(
                    id=next_id(Kind.TRAFFIC_SIGNAL),
                    kind=Kind.TRAFFIC_SIGNAL,
                    district=district.name,
                    junction=junction,
                    approaches=APPROACHES,
                    flash_schedule=district.flash_schedule(index),
                    **junction_places[junction],
                )
            )
        for index in range(district.checkpoints):
            number = counters[Kind.CHECKPOINT] + 1
            junction_of = junctions[index % len(junctions)] if junctions else None
            # a camera stands at its junction, a few tens of metres up one approach
            place = _place(district, 3, number)
            if junction_of is not None and junction_places[junction_of]:
                at = junction_places[junction_of]
                place = {
                    "latitude": round(at["latitude"] + 0.0003 * (uniform(number, 17) - 0.5), 5),
                    "longitude": round(at["longitude"] + 0.0003 * (uniform(number, 19) - 0.5), 5),
                }
            records.append(
                DeviceRecord(
                    id=next_id(Kind.CHECKPOINT),
                    kind=Kind.CHECKPOINT,
                    district=district.name,
                    junction=junction_of,
                    lanes=2 + int(uniform(number, 11) * 3),
                    speed_limit_kmh=(40.0, 50.0, 60.0, 80.0)[int(uniform(number, 13) * 4)],
                    **place,
                )
            )
    for river in spec.rivers:
        sections = river.section_count
        lake = river.type is not WaterBodyType.RIVER
        lengths = river.section_lengths_km or (1.0,) * sections
        total = sum(lengths)
        for order in range(1, sections + 1):
            # the river crosses its districts in order, upstream first
            crossing = river.districts[(order - 1) * len(river.districts) // sections]
            # a river's station stands at the downstream end of its stretch
            along = sum(lengths[:order]) / total if not lake else (order - 0.5) / sections
            for _ in range(river.stations_per_section):
                records.append(
                    DeviceRecord(
                        id=next_id(Kind.WATER_QUALITY),
                        kind=Kind.WATER_QUALITY,
                        district=crossing,
                        river=river.name,
                        water_body=river.type,
                        section=f"{'L' if lake else 'S'}{order}",
                        section_order=order,
                        target_class=river.target_class,
                        **_along(river, along),
                    )
                )
    waters = [river.water_body() for river in spec.rivers]
    return Registry.from_records(records, city=spec.city, waters=waters)


def _place(district: DistrictSpec, purpose: int, number: int) -> dict[str, float]:
    """A point within the district's radius, deterministic for (purpose, number); none when
    the district has no centre."""
    if district.latitude is None or district.longitude is None:
        return {}
    distance_km = district.radius_km * math.sqrt(uniform(purpose, number, 1))
    bearing = 2 * math.pi * uniform(purpose, number, 2)
    north_km, east_km = distance_km * math.cos(bearing), distance_km * math.sin(bearing)
    latitude = district.latitude + north_km / 111.32
    longitude = district.longitude + east_km / (111.32 * math.cos(math.radians(latitude)))
    return {"latitude": round(latitude, 5), "longitude": round(longitude, 5)}


def _along(river: RiverSpec, fraction: float) -> dict[str, float]:
    """A point ``fraction`` of the way from the water body's ``from`` to its ``to``."""
    if river.start is None or river.end is None:
        return {}
    (lat0, lon0), (lat1, lon1) = river.start, river.end
    return {
        "latitude": round(lat0 + (lat1 - lat0) * fraction, 5),
        "longitude": round(lon0 + (lon1 - lon0) * fraction, 5),
    }


def load_fleet_registry(path: str | Path) -> Registry:
    """The registry a fleet file describes (``generate_registry(load_fleet_spec(path))``)."""
    return generate_registry(load_fleet_spec(path))


def _width(count: int) -> int:
    return max(4, len(str(count)))
