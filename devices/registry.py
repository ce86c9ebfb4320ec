"""The fleet registry: which devices exist, where, and under which cabinet, river or junction.

A YAML file::

    city: {name: Dongguan, latitude: 23.02, longitude: 113.75, timezone: Asia/Shanghai}
    waters:
      - {name: zhongtang-waterway, type: river, flow_m_s: 0.4,
         sections: [{name: S1, length_km: 1.4}, {name: S2, length_km: 1.5}]}
      - {name: songshan-lake, type: lake}
    devices:
      - {id: SL-0001, kind: streetlight, district: guancheng, cabinet: C-01,
         latitude: 23.046, longitude: 113.749}
      - {id: WQ-0001, kind: water_quality, district: zhongtang, river: zhongtang-waterway,
         water_body: river, section: S1, section_order: 1, target_class: III}
      - {id: TS-0001, kind: traffic_signal, district: guancheng, junction: J-01,
         approaches: [north, east, south, west], flash_schedule: "01:00-05:00"}
      - {id: CP-0001, kind: checkpoint, district: guancheng, junction: J-01, lanes: 3,
         speed_limit_kmh: 60}

``waters`` is optional: it gives each river, lake or reservoir its type and a river its
stretches (from upstream, each ending at its monitoring section) and flow, which is how long a
spill takes from one station to the next. A water station's ``river`` names its water body
(a lake's name too: the tag is kept for the stored points and alert labels) and its
``water_body`` type, a river when left out. A signal's ``flash_schedule`` gives the local hours
its junction is planned to flash yellow (``HH:MM-HH:MM``, may wrap midnight; left out: never),
which rules read with ``when: {outside_local_time_from: flash_schedule}``. Errors name the
file and line of the offending device.

Long because: the records of four kinds and the water bodies each carry their own cross-field
checks, and the loader that reports them by file:line sits beside the models it loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from devices.errors import RegistryInvalid, YamlFileInvalid
from devices.payloads import APPROACH_PATTERN
from devices.sun import SunDay, sun_day, sun_elevation_deg
from devices.time_span import parse_local_span
from devices.topics import DISTRICT_PATTERN, RESERVED_DISTRICTS, Kind
from devices.validation import describe_validation_error
from devices.yaml_lines import KEY_LINES, LINE, read_with_lines, strip_lines

__all__ = [
    "PLACEMENT_TAGS",
    "SCHEDULE_ATTRIBUTES",
    "City",
    "DeviceRecord",
    "Placement",
    "Registry",
    "RiverStretch",
    "WaterBody",
    "WaterBodyType",
    "WaterClass",
    "dump_registry",
    "load_registry",
]

Placement = Literal["cabinet", "river", "section", "junction"]
"""What a device belongs to besides its district: a streetlight's cabinet, a water station's
river and section, a signal's or camera's junction. Stored points carry them as tags, alerts as
labels, and group rules group by them."""

PLACEMENT_TAGS: tuple[Placement, ...] = get_args(Placement)

SCHEDULE_ATTRIBUTES: dict[str, Kind] = {"flash_schedule": Kind.TRAFFIC_SIGNAL}
"""Registry fields that hold a local-time span ``HH:MM-HH:MM`` (or null), and the kind that
has them: a rule's ``when: {local_time_from: ...}`` gate reads its window from one."""

_GROUP_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class WaterClass(StrEnum):
    """Surface water classes of GB 3838-2002, I (best) to V; ``worse_than_v`` is 劣V."""

    I = "I"  # noqa: E741 - the standard's own name
    II = "II"
    III = "III"
    IV = "IV"
    V = "V"
    WORSE_THAN_V = "worse_than_v"

    @property
    def rank(self) -> int:
        """1 for class I … 6 for worse than V: a larger rank is dirtier water."""
        return list(WaterClass).index(self) + 1


class WaterBodyType(StrEnum):
    """What a station stands in: GB 3838-2002 grades total phosphorus of lakes and reservoirs
    more strictly than that of rivers."""

    RIVER = "river"
    LAKE = "lake"
    RESERVOIR = "reservoir"


class City(BaseModel):
    """Where the city is: the sun (lights) and local time (peaks) depend on it.

    The default is the demo city, Dongguan (Guangdong): its government seat in Nancheng lies at
    about 23.02° N, 113.75° E.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="Dongguan", min_length=1, max_length=128)
    latitude: float = Field(default=23.0207, ge=-90, le=90)
    longitude: float = Field(default=113.7518, ge=-180, le=180)
    timezone: str = Field(default="Asia/Shanghai", min_length=1)
    # Climate: monthly means of the coldest and the warmest month, what simulated sensors and
    # lamps live in. Dongguan's subtropical monsoon climate: air about 14 °C in January and
    # 29 °C in July; its rivers about 15 °C and 31 °C (figures of issue 13, not re-measured).
    air_temp_coldest_c: float = Field(default=14.0, ge=-60, le=50)
    air_temp_warmest_c: float = Field(default=29.0, ge=-60, le=50)
    water_temp_coldest_c: float = Field(default=15.0, ge=0, le=40)
    water_temp_warmest_c: float = Field(default=31.0, ge=0, le=40)

    def sun_elevation_deg(self, at: datetime) -> float:
        """The sun's elevation over the city at ``at`` (aware), in degrees; see ``devices.sun``."""
        return sun_elevation_deg(at, self.latitude, self.longitude)

    def sun_day(self, day: date) -> SunDay:
        """Sunrise, sunset and civil twilight of the city's local date ``day``."""
        return sun_day(day, self.latitude, self.longitude, self.timezone)


class RiverStretch(BaseModel):
    """One stretch of a river, from the station upstream of it to its own monitoring section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_GROUP_PATTERN)
    length_km: float = Field(gt=0, le=1_000)


class WaterBody(BaseModel):
    """A river, lake or reservoir: its type, and for a river its stretches and flow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_GROUP_PATTERN)
    type: WaterBodyType
    flow_m_s: float | None = Field(default=None, gt=0, le=10, description="mean flow speed")
    sections: tuple[RiverStretch, ...] = ()

    @model_validator(mode="after")
    def _check_river(self) -> WaterBody:
        if self.type is not WaterBodyType.RIVER and (self.sections or self.flow_m_s):
            raise ValueError(f"a {self.type.value} has no sections or flow_m_s")
        names = [section.name for section in self.sections]
        if len(set(names)) != len(names):
            raise ValueError("section names must be unique")
        return self

    def km_between(self, upstream: str, downstream: str) -> float | None:
        """River km from one monitoring section down to another; ``None`` if either is not
        listed or ``downstream`` lies upstream."""
        names = [section.name for section in self.sections]
        if upstream not in names or downstream not in names:
            return None
        first, last = names.index(upstream), names.index(downstream)
        if last < first:
            return None
        return sum(section.length_km for section in self.sections[first + 1 : last + 1])


class DeviceRecord(BaseModel):
    """One device of the fleet and what it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    kind: Kind
    district: str
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    # streetlight
    cabinet: str | None = Field(default=None, pattern=_GROUP_PATTERN)
    rated_power_w: float | None = Field(default=None, gt=0, le=1_000)
    # water_quality
    river: str | None = Field(default=None, pattern=_GROUP_PATTERN)
    section: str | None = Field(default=None, pattern=_GROUP_PATTERN)
    section_order: int | None = Field(default=None, ge=0)
    target_class: WaterClass | None = None
    water_body: WaterBodyType | None = None  # a water station's: river when left out
    # traffic_signal and checkpoint
    junction: str | None = Field(default=None, pattern=_GROUP_PATTERN)
    approaches: tuple[str, ...] | None = None
    lanes: int | None = Field(default=None, ge=1, le=16)
    speed_limit_kmh: float | None = Field(default=None, gt=0, le=200)
    # traffic_signal: the local hours the junction is scheduled to flash yellow ("01:00-05:00",
    # may wrap midnight); null: it never flashes by plan
    flash_schedule: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _river_by_default(cls, data: Any) -> Any:
        water = isinstance(data, dict) and data.get("kind") in (Kind.WATER_QUALITY, "water_quality")
        if water and data.get("water_body") is None:
            return {**data, "water_body": WaterBodyType.RIVER}
        return data

    @model_validator(mode="after")
    def _check_kind_fields(self) -> DeviceRecord:
        if not DISTRICT_PATTERN.fullmatch(self.district) or self.district in RESERVED_DISTRICTS:
            raise ValueError(f"district {self.district!r} is not a valid district name")
        required: dict[Kind, tuple[str, ...]] = {
            Kind.STREETLIGHT: ("cabinet",),
            Kind.WATER_QUALITY: ("river", "section", "section_order", "target_class"),
            Kind.TRAFFIC_SIGNAL: ("junction",),
            Kind.CHECKPOINT: (),
        }
        missing = [name for name in required[self.kind] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind.value} needs {', '.join(missing)}")
        if self.water_body is not None and self.kind is not Kind.WATER_QUALITY:
            raise ValueError(f"a {self.kind.value} has no water_body")
        for name, kind in SCHEDULE_ATTRIBUTES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if self.kind is not kind:
                raise ValueError(f"a {self.kind.value} has no {name}")
            try:
                parse_local_span(value)
            except ValueError as exc:
                raise ValueError(f"{name} {exc}") from None
        for approach in self.approaches or ():
            if not re.fullmatch(APPROACH_PATTERN, approach):
                raise ValueError(f"approach {approach!r} is not [A-Za-z0-9_-]{{1,16}}")
        return self

    def tags(self) -> dict[str, str]:
        """Registry tags a stored point carries: where the device is and what it belongs to."""
        tags = {"district": self.district}
        for name in PLACEMENT_TAGS:
            value = getattr(self, name)
            if value is not None:
                tags[name] = value
        return tags


class Registry(Mapping[str, DeviceRecord]):
    """The fleet, by device id; immutable once loaded."""

    def __init__(
        self,
        devices: Mapping[str, DeviceRecord],
        *,
        city: City | None = None,
        waters: Mapping[str, WaterBody] | None = None,
    ) -> None:
        self._devices = dict(devices)
        self.city = city or City()
        self.waters: Mapping[str, WaterBody] = dict(waters or {})
        for device in self._devices.values():
            problem = _water_problem(device, self.waters)
            if problem:
                raise ValueError(f"device {device.id!r}: {problem}")

    def __getitem__(self, device_id: str) -> DeviceRecord:
        return self._devices[device_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._devices)

    def __len__(self) -> int:
        return len(self._devices)

    def of_kind(self, kind: Kind) -> list[DeviceRecord]:
        """Every device of one kind, in registry order."""
        return [device for device in self._devices.values() if device.kind is kind]

    def water_body_of(self, record: DeviceRecord) -> WaterBody | None:
        """The water body a station stands in, when the registry lists it."""
        return self.waters.get(record.river) if record.river is not None else None

    @classmethod
    def from_records(
        cls,
        records: list[DeviceRecord],
        *,
        city: City | None = None,
        waters: list[WaterBody] | tuple[WaterBody, ...] = (),
    ) -> Registry:
        """Build a registry, refusing duplicate ids and water bodies."""
        devices: dict[str, DeviceRecord] = {}
        for record in records:
            if record.id in devices:
                raise ValueError(f"device {record.id!r} is listed twice")
            devices[record.id] = record
        bodies: dict[str, WaterBody] = {}
        for body in waters:
            if body.name in bodies:
                raise ValueError(f"water body {body.name!r} is listed twice")
            bodies[body.name] = body
        return cls(devices, city=city, waters=bodies)


def _water_problem(device: DeviceRecord, waters: Mapping[str, WaterBody]) -> str | None:
    """What is wrong between a water station and the water body it names, if anything."""
    body = waters.get(device.river) if device.river is not None else None
    if body is None:
        return None
    if device.water_body is not body.type:
        shown = device.water_body.value if device.water_body else None
        return f"water_body {shown!r} but {body.name!r} is a {body.type.value}"
    if body.sections and device.section not in {section.name for section in body.sections}:
        return f"section {device.section!r} is not one of {body.name!r}'s sections"
    return None


def load_registry(path: str | Path) -> Registry:
    """Load and validate a registry file; errors name the file, line and field."""
    where = str(path)
    try:
        document = read_with_lines(path)
    except YamlFileInvalid as exc:
        raise RegistryInvalid(where, exc.reason, exc.line) from exc
    if not isinstance(document, dict):
        raise RegistryInvalid(where, "expected a mapping with 'city' and 'devices'")
    unknown = set(document) - {"city", "waters", "devices", LINE, KEY_LINES}
    if unknown:
        raise RegistryInvalid(where, f"unknown top-level keys: {', '.join(sorted(unknown))}")
    waters = _load_waters(where, document)
    city_data = document.get("city") or {}
    try:
        city = City.model_validate(strip_lines(city_data))
    except ValidationError as exc:
        line = city_data.get(LINE) if isinstance(city_data, dict) else None
        raise RegistryInvalid(where, f"city: {describe_validation_error(exc)}", line) from exc
    records: dict[str, DeviceRecord] = {}
    for record, line in _entries(where, document, "devices", DeviceRecord, "device", "id"):
        if record.id in records:
            raise RegistryInvalid(where, f"device {record.id!r} is listed twice", line)
        problem = _water_problem(record, waters)
        if problem:
            raise RegistryInvalid(where, f"device {record.id!r}: {problem}", line)
        records[record.id] = record
    return Registry(records, city=city, waters=waters)


_Entry = TypeVar("_Entry", bound=BaseModel)


def _load_waters(where: str, document: dict[str, Any]) -> dict[str, WaterBody]:
    waters: dict[str, WaterBody] = {}
    for body, line in _entries(where, document, "waters", WaterBody, "water body", "name"):
        if body.name in waters:
            raise RegistryInvalid(where, f"water body {body.name!r} is listed twice", line)
        waters[body.name] = body
    return waters


def _entries(
    where: str, document: dict[str, Any], section: str, model: type[_Entry], noun: str, key: str
) -> Iterator[tuple[_Entry, int | None]]:
    """Each entry of the list ``section`` validated as ``model``, with its line; errors name
    the entry by ``key`` (or its position) and the line."""
    entries = document.get(section) or []
    if not isinstance(entries, list):
        raise RegistryInvalid(where, f"'{section}' must be a list", document.get(LINE))
    for index, entry in enumerate(entries):
        line = entry.get(LINE) if isinstance(entry, dict) else None
        if not isinstance(entry, dict):
            raise RegistryInvalid(where, f"{noun} #{index + 1} is not a mapping", line)
        try:
            item = model.model_validate(strip_lines(entry))
        except ValidationError as exc:
            name = entry.get(key, f"#{index + 1}")
            raise RegistryInvalid(
                where, f"{noun} {name!r}: {describe_validation_error(exc)}", line
            ) from exc
        yield item, line


def dump_registry(registry: Registry, path: str | Path) -> None:
    """Write a registry file that ``load_registry`` reads back to an equal registry."""
    document: dict[str, Any] = {"city": registry.city.model_dump()}
    if registry.waters:
        document["waters"] = [
            {"name": body.name, "type": body.type.value}
            | body.model_dump(mode="json", exclude={"name", "type"}, exclude_defaults=True)
            for body in registry.waters.values()
        ]
    document |= {
        "devices": [
            registry[device_id].model_dump(mode="json", exclude_none=True) for device_id in registry
        ],
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(target.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        yaml.dump(document, handle, Dumper=yaml.SafeDumper, sort_keys=False, width=200)
    temporary.replace(target)
