"""Payload schemas of the four kinds: fields, units in the names, valid ranges.

Every payload is one JSON object. ``ts`` is the time of measurement (RFC 3339 with an offset, or
epoch milliseconds), ``seq`` a per-device counter, ``device_id`` optional (when present it must
match the topic). The ranges are what the hardware can physically report, not alert thresholds:
a value outside them is a broken sensor or a forged message, and is rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "APPROACH_PATTERN",
    "Approach",
    "CheckpointEvent",
    "CheckpointTelemetry",
    "Direction",
    "Payload",
    "Reading",
    "SignalFault",
    "SignalMode",
    "Status",
    "StreetlightFault",
    "StreetlightTelemetry",
    "TrafficSignalEvent",
    "TrafficSignalFaultEvent",
    "TrafficSignalTelemetry",
    "VehicleClass",
    "VehiclePass",
    "Violation",
    "ViolationKind",
    "WaterQualityTelemetry",
    "parse_ts",
]

APPROACH_PATTERN = r"^[A-Za-z0-9_-]{1,16}$"
EVIDENCE_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
PLATE_PATTERN = r"^[\w·-]{2,16}$"
_EPOCH_MS_MIN = 0
_EPOCH_MS_MAX = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def parse_ts(value: Any) -> datetime:
    """Time of measurement: epoch milliseconds or RFC 3339 with an offset, as aware UTC."""
    if isinstance(value, bool):
        raise ValueError("ts must be RFC 3339 text or epoch milliseconds, not a boolean")
    if isinstance(value, int | float):
        if value != value or not _EPOCH_MS_MIN <= value <= _EPOCH_MS_MAX:
            raise ValueError(f"ts {value!r} is not epoch milliseconds in years 1970–9999")
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40:
            raise ValueError("ts text is longer than an RFC 3339 timestamp can be")
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"ts {text!r} is not RFC 3339") from exc
        if parsed.tzinfo is None:
            raise ValueError(f"ts {text!r} has no UTC offset")
        return parsed.astimezone(UTC)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("ts has no UTC offset")
        return value.astimezone(UTC)
    raise ValueError("ts must be RFC 3339 text or epoch milliseconds")


Timestamp = Annotated[datetime, BeforeValidator(parse_ts)]
# The default of a number a sample may leave out: None, typed Any so that the field itself can
# stay annotated as a plain number (see WaterQualityTelemetry).
NOT_IN_SAMPLE: Any = None
DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Payload(BaseModel):
    """Base of every wire payload: strict, frozen, no unknown fields, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    measurement: ClassVar[str]


class Reading(Payload):
    """A payload with a time of measurement and a sequence number."""

    ts: Timestamp
    seq: int = Field(ge=0, le=2**53)
    device_id: DeviceId | None = None


# --- streetlight -------------------------------------------------------------------------------


class StreetlightFault(StrEnum):
    """Fault flags a streetlight controller raises (NEMA/Zhaga node style)."""

    LAMP_FAILURE = "lamp_failure"
    DRIVER_FAILURE = "driver_failure"
    OVER_VOLTAGE = "over_voltage"
    UNDER_VOLTAGE = "under_voltage"
    OVER_TEMPERATURE = "over_temperature"
    POWER_LOSS = "power_loss"
    COMMUNICATION = "communication"


class StreetlightTelemetry(Reading):
    """One light's controller report: electrical readings, lamp state, faults."""

    measurement: ClassVar[str] = "streetlight"

    power_w: float = Field(ge=0, le=1_000)
    voltage_v: float = Field(ge=0, le=300)
    current_a: float = Field(ge=0, le=10)
    power_factor: float = Field(ge=0, le=1)
    energy_kwh: float = Field(ge=0, le=10_000_000, description="cumulative since installation")
    lamp_on: bool
    dimming_pct: float = Field(ge=0, le=100)
    ambient_lux: float = Field(ge=0, le=200_000)
    lamp_temp_c: float = Field(ge=-50, le=150)
    faults: tuple[StreetlightFault, ...] = Field(default=(), max_length=len(StreetlightFault))


# --- water quality -----------------------------------------------------------------------------


class WaterQualityTelemetry(Reading):
    """An online monitoring station's reading (GB 3838-2002 parameters).

    The five basic parameters come from probes and are in every hourly sample; permanganate
    index, ammonia and total phosphorus come from wet-chemistry analysers that take a sample
    every 1–4 hours (HJ 915-2017), so a sample carries them only when an analysis finished:
    left out, they read ``None`` (``null`` is refused: leave the field out).

    The optional fields are annotated ``float`` with a ``None`` default, not ``float | None``:
    the rule-file checker (``alerts/rules.py``) accepts a threshold only on a field annotated
    ``float`` or ``int``; once it unwraps optionals these become ``float | None``.
    """

    measurement: ClassVar[str] = "water_quality"

    water_temp_c: float = Field(ge=-5, le=45)
    ph: float = Field(ge=0, le=14)
    dissolved_oxygen_mg_l: float = Field(ge=0, le=25)
    turbidity_ntu: float = Field(ge=0, le=4_000)
    conductivity_us_cm: float = Field(ge=0, le=100_000)
    permanganate_index_mg_l: float = Field(default=NOT_IN_SAMPLE, ge=0, le=100)
    ammonia_mg_l: float = Field(default=NOT_IN_SAMPLE, ge=0, le=100)
    total_phosphorus_mg_l: float = Field(default=NOT_IN_SAMPLE, ge=0, le=20)


# --- traffic signal ----------------------------------------------------------------------------


class SignalMode(StrEnum):
    """How a junction controller is running."""

    FIXED = "fixed"
    ACTUATED = "actuated"
    MANUAL = "manual"
    FLASH = "flash"
    OFF = "off"


class SignalFault(StrEnum):
    """Faults a junction controller reports."""

    LAMP_OUT = "lamp_out"
    CONFLICT = "conflict"
    DETECTOR_FAILURE = "detector_failure"
    COMMUNICATION = "communication"


class Approach(Payload):
    """Detector figures for one approach (arm) of a junction over the last reporting period."""

    measurement: ClassVar[str] = "traffic_signal_approach"

    approach: str = Field(pattern=APPROACH_PATTERN)
    queue_veh: int = Field(ge=0, le=500, description="the queue at the time of the report")
    volume_veh: int = Field(ge=0, le=10_000)
    occupancy_pct: float = Field(ge=0, le=100)
    # annotated int with a None default (absent from older controllers): see
    # WaterQualityTelemetry on why not ``int | None``
    residual_queue_veh: int = Field(
        default=NOT_IN_SAMPLE, ge=0, le=500, description="the queue left when the last green ended"
    )


class TrafficSignalTelemetry(Reading):
    """A junction controller's periodic report."""

    measurement: ClassVar[str] = "traffic_signal"

    mode: SignalMode
    plan_id: int = Field(ge=0, le=255)
    phase: int = Field(ge=0, le=32)
    cycle_s: float = Field(ge=0, le=600)
    approaches: tuple[Approach, ...] = Field(min_length=1, max_length=16)


class TrafficSignalFaultEvent(Reading):
    """A fault raised (``active``) or cleared by a junction controller."""

    measurement: ClassVar[str] = "traffic_signal_fault"

    event: Literal["fault"]
    fault: SignalFault
    active: bool = True
    approach: str | None = Field(default=None, pattern=APPROACH_PATTERN)
    detail: str = Field(default="", max_length=256)


TrafficSignalEvent = TrafficSignalFaultEvent


# --- checkpoint --------------------------------------------------------------------------------


class VehicleClass(StrEnum):
    """Vehicle class as an ANPR camera reports it."""

    CAR = "car"
    VAN = "van"
    TRUCK = "truck"
    BUS = "bus"
    MOTORCYCLE = "motorcycle"
    OTHER = "other"


class Direction(StrEnum):
    """Direction of travel past a checkpoint."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ViolationKind(StrEnum):
    """Violations a checkpoint camera detects."""

    RED_LIGHT = "red_light"
    ILLEGAL_PARKING = "illegal_parking"
    SPEEDING = "speeding"


class CheckpointTelemetry(Reading):
    """A checkpoint camera's health report."""

    measurement: ClassVar[str] = "checkpoint"

    online: bool
    fps: float = Field(ge=0, le=240)
    storage_used_pct: float = Field(ge=0, le=100)
    temp_c: float = Field(ge=-50, le=120)
    vehicles_per_min: float = Field(ge=0, le=1_000)


class VehiclePass(Reading):
    """A vehicle passing the camera. The plate is personal data: stored only as a keyed hash."""

    measurement: ClassVar[str] = "checkpoint_pass"

    event: Literal["vehicle_pass"]
    plate: str = Field(pattern=PLATE_PATTERN)
    vehicle_class: VehicleClass
    speed_kmh: float = Field(ge=0, le=350)
    lane: int = Field(ge=1, le=16)
    direction: Direction


class Violation(Reading):
    """A violation with the id of its evidence (images, clip) kept on the camera side."""

    measurement: ClassVar[str] = "checkpoint_violation"

    event: Literal["violation"]
    violation: ViolationKind
    plate: str = Field(pattern=PLATE_PATTERN)
    evidence_id: str = Field(pattern=EVIDENCE_PATTERN)
    lane: int = Field(ge=1, le=16)
    speed_kmh: float | None = Field(default=None, ge=0, le=350)
    limit_kmh: float | None = Field(default=None, ge=0, le=200)
    dwell_s: float | None = Field(
        default=None, ge=0, le=604_800, description="illegal_parking: how long it stood still"
    )


CheckpointEvent = Annotated[VehiclePass | Violation, Field(discriminator="event")]


# --- status ------------------------------------------------------------------------------------


class Status(Payload):
    """Retained presence: ``{"online": true, ...}``; the last-will is ``{"online": false}``."""

    measurement: ClassVar[str] = "device_status"

    online: bool
    ts: Timestamp | None = None
    seq: int | None = Field(default=None, ge=0, le=2**53)
    device_id: DeviceId | None = None
    firmware: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=128)
