"""Fleet files: a city described by counts, turned into a registry of devices.

A fleet file (YAML)::

    city: {name: Demo City, latitude: 31.2304, longitude: 121.4737, timezone: Asia/Shanghai}
    districts:
      - {name: centre, streetlights: 24, lights_per_cabinet: 8, junctions: 3, checkpoints: 4}
    rivers:
      - {name: jade, sections: 5, stations_per_section: 1, districts: [centre],
         target_class: III}

Generation is deterministic: the same file gives the same registry, ids and all. Ids are
``SL-0001`` (streetlights), ``WQ-0001``, ``TS-0001``, ``CP-0001``; cabinets ``C-01``; junctions
``J-01``; river sections ``S1`` … ``Sn`` in their order along the river (1 is upstream).
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devices import (
    City,
    DeviceRecord,
    Kind,
    Registry,
    WaterClass,
    YamlFileInvalid,
    load_yaml_model,
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
    streetlights: int = Field(default=0, ge=0)
    lights_per_cabinet: int = Field(default=40, ge=1, le=10_000)
    junctions: int = Field(default=0, ge=0, description="one traffic signal per junction")
    checkpoints: int = Field(default=0, ge=0)


class RiverSpec(BaseModel):
    """A river: its sections in order from upstream (1) and the stations on each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    sections: int = Field(ge=1, le=10_000)
    stations_per_section: int = Field(default=1, ge=1, le=100)
    districts: tuple[str, ...] = Field(min_length=1)
    target_class: WaterClass = WaterClass.III


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
            r.sections * r.stations_per_section for r in self.rivers
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


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def generate_registry(spec: FleetSpec) -> Registry:
    """The registry of a fleet: one record per device, deterministic for a given spec."""
    width = {
        Kind.STREETLIGHT: _width(sum(d.streetlights for d in spec.districts)),
        Kind.TRAFFIC_SIGNAL: _width(sum(d.junctions for d in spec.districts)),
        Kind.CHECKPOINT: _width(sum(d.checkpoints for d in spec.districts)),
        Kind.WATER_QUALITY: _width(sum(r.sections * r.stations_per_section for r in spec.rivers)),
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
                )
            )
        junctions: list[str] = []
        for _ in range(district.junctions):
            junction_number += 1
            junction = f"J-{junction_number:0{junction_width}d}"
            junctions.append(junction)
            records.append(
                DeviceRecord(
                    id=next_id(Kind.TRAFFIC_SIGNAL),
                    kind=Kind.TRAFFIC_SIGNAL,
                    district=district.name,
                    junction=junction,
                    approaches=APPROACHES,
                )
            )
        for index in range(district.checkpoints):
            number = counters[Kind.CHECKPOINT] + 1
            records.append(
                DeviceRecord(
                    id=next_id(Kind.CHECKPOINT),
                    kind=Kind.CHECKPOINT,
                    district=district.name,
                    junction=junctions[index % len(junctions)] if junctions else None,
                    lanes=2 + int(uniform(number, 11) * 3),
                    speed_limit_kmh=(40.0, 50.0, 60.0, 80.0)[int(uniform(number, 13) * 4)],
                )
            )
    for river in spec.rivers:
        for order in range(1, river.sections + 1):
            # the river crosses its districts in order, upstream first
            crossing = river.districts[(order - 1) * len(river.districts) // river.sections]
            for _ in range(river.stations_per_section):
                records.append(
                    DeviceRecord(
                        id=next_id(Kind.WATER_QUALITY),
                        kind=Kind.WATER_QUALITY,
                        district=crossing,
                        river=river.name,
                        section=f"S{order}",
                        section_order=order,
                        target_class=river.target_class,
                    )
                )
    return Registry.from_records(records, city=spec.city)


def load_fleet_registry(path: str | Path) -> Registry:
    """The registry a fleet file describes (``generate_registry(load_fleet_spec(path))``)."""
    return generate_registry(load_fleet_spec(path))


def _width(count: int) -> int:
    return max(4, len(str(count)))
