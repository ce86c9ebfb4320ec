"""The fleet registry: which devices exist, where, and under which cabinet, river or junction.

A YAML file::

    city: {name: Demo City, latitude: 31.23, longitude: 121.47, timezone: Asia/Shanghai}
    devices:
      - {id: SL-0001, kind: streetlight, district: riverside, cabinet: C-01}
      - {id: WQ-0001, kind: water_quality, district: riverside, river: jade,
         section: S1, section_order: 1, target_class: III}
      - {id: TS-0001, kind: traffic_signal, district: centre, junction: J-01,
         approaches: [north, east, south, west]}
      - {id: CP-0001, kind: checkpoint, district: centre, junction: J-01, lanes: 3,
         speed_limit_kmh: 60}

Errors name the file and line of the offending device.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from devices.errors import RegistryInvalid, YamlFileInvalid
from devices.payloads import APPROACH_PATTERN
from devices.sun import SunDay, sun_day, sun_elevation_deg
from devices.topics import DISTRICT_PATTERN, RESERVED_DISTRICTS, Kind
from devices.validation import describe_validation_error
from devices.yaml_lines import KEY_LINES, LINE, read_with_lines, strip_lines

__all__ = [
    "PLACEMENT_TAGS",
    "City",
    "DeviceRecord",
    "Placement",
    "Registry",
    "WaterClass",
    "dump_registry",
    "load_registry",
]

Placement = Literal["cabinet", "river", "section", "junction"]
"""What a device belongs to besides its district: a streetlight's cabinet, a water station's
river and section, a signal's or camera's junction. Stored points carry them as tags, alerts as
labels, and group rules group by them."""

PLACEMENT_TAGS: tuple[Placement, ...] = get_args(Placement)

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


class City(BaseModel):
    """Where the city is: the sun (lights) and local time (peaks) depend on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="Demo City", min_length=1, max_length=128)
    latitude: float = Field(default=31.2304, ge=-90, le=90)
    longitude: float = Field(default=121.4737, ge=-180, le=180)
    timezone: str = Field(default="Asia/Shanghai", min_length=1)

    def sun_elevation_deg(self, at: datetime) -> float:
        """The sun's elevation over the city at ``at`` (aware), in degrees; see ``devices.sun``."""
        return sun_elevation_deg(at, self.latitude, self.longitude)

    def sun_day(self, day: date) -> SunDay:
        """Sunrise, sunset and civil twilight of the city's local date ``day``."""
        return sun_day(day, self.latitude, self.longitude, self.timezone)


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
    # traffic_signal and checkpoint
    junction: str | None = Field(default=None, pattern=_GROUP_PATTERN)
    approaches: tuple[str, ...] | None = None
    lanes: int | None = Field(default=None, ge=1, le=16)
    speed_limit_kmh: float | None = Field(default=None, gt=0, le=200)

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

    def __init__(self, devices: Mapping[str, DeviceRecord], *, city: City | None = None) -> None:
        self._devices = dict(devices)
        self.city = city or City()

    def __getitem__(self, device_id: str) -> DeviceRecord:
        return self._devices[device_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._devices)

    def __len__(self) -> int:
        return len(self._devices)

    def of_kind(self, kind: Kind) -> list[DeviceRecord]:
        """Every device of one kind, in registry order."""
        return [device for device in self._devices.values() if device.kind is kind]

    @classmethod
    def from_records(cls, records: list[DeviceRecord], *, city: City | None = None) -> Registry:
        """Build a registry, refusing duplicate ids."""
        devices: dict[str, DeviceRecord] = {}
        for record in records:
            if record.id in devices:
                raise ValueError(f"device {record.id!r} is listed twice")
            devices[record.id] = record
        return cls(devices, city=city)


def load_registry(path: str | Path) -> Registry:
    """Load and validate a registry file; errors name the file, line and field."""
    where = str(path)
    try:
        document = read_with_lines(path)
    except YamlFileInvalid as exc:
        raise RegistryInvalid(where, exc.reason, exc.line) from exc
    if not isinstance(document, dict):
        raise RegistryInvalid(where, "expected a mapping with 'city' and 'devices'")
    unknown = set(document) - {"city", "devices", LINE, KEY_LINES}
    if unknown:
        raise RegistryInvalid(where, f"unknown top-level keys: {', '.join(sorted(unknown))}")
    city_data = document.get("city") or {}
    try:
        city = City.model_validate(strip_lines(city_data))
    except ValidationError as exc:
        line = city_data.get(LINE) if isinstance(city_data, dict) else None
        raise RegistryInvalid(where, f"city: {describe_validation_error(exc)}", line) from exc
    entries = document.get("devices") or []
    if not isinstance(entries, list):
        raise RegistryInvalid(where, "'devices' must be a list", document.get(LINE))
    records: dict[str, DeviceRecord] = {}
    for index, entry in enumerate(entries):
        line = entry.get(LINE) if isinstance(entry, dict) else None
        if not isinstance(entry, dict):
            raise RegistryInvalid(where, f"device #{index + 1} is not a mapping", line)
        try:
            record = DeviceRecord.model_validate(strip_lines(entry))
        except ValidationError as exc:
            name = entry.get("id", f"#{index + 1}")
            raise RegistryInvalid(
                where, f"device {name!r}: {describe_validation_error(exc)}", line
            ) from exc
        if record.id in records:
            raise RegistryInvalid(where, f"device {record.id!r} is listed twice", line)
        records[record.id] = record
    return Registry(records, city=city)


def dump_registry(registry: Registry, path: str | Path) -> None:
    """Write a registry file that ``load_registry`` reads back to an equal registry."""
    document = {
        "city": registry.city.model_dump(),
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
