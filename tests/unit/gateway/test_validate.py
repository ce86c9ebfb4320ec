"""The gateway's checks: topic, registry, schema, clock skew."""

from __future__ import annotations

import orjson
import pytest

from devices import DeviceRecord, Kind, Registry
from gateway import PayloadRejected
from gateway.validate import Validator

NOW = 1_800_000_000.0
REGISTRY = Registry.from_records(
    [DeviceRecord(id="SL-1", kind=Kind.STREETLIGHT, district="riverside", cabinet="C-1")]
)
TOPIC = "city/riverside/streetlight/SL-1/telemetry"


def reading(**changes: object) -> bytes:
    payload: dict[str, object] = {
        "ts": int(NOW * 1000),
        "seq": 1,
        "power_w": 10.0,
        "voltage_v": 220.0,
        "current_a": 0.1,
        "power_factor": 0.9,
        "energy_kwh": 1.0,
        "lamp_on": True,
        "dimming_pct": 50.0,
        "ambient_lux": 1.0,
        "lamp_temp_c": 20.0,
    }
    payload.update(changes)
    return orjson.dumps(payload)


def validator(*, register: bool = False) -> Validator:
    return Validator(
        REGISTRY,
        register_unknown=register,
        payload_max_bytes=64 * 1024,
        ts_future_max_s=300,
        ts_past_max_s=86_400,
    )


def reason(topic: str, payload: bytes, *, register: bool = False) -> str:
    with pytest.raises(PayloadRejected) as caught:
        validator(register=register).check(topic, payload, NOW)
    return caught.value.reason


def test_a_valid_reading_is_accepted_with_its_registry_record() -> None:
    accepted = validator().check(TOPIC, reading(), NOW)
    assert accepted.device is REGISTRY["SL-1"]
    assert accepted.message.topic.device_id == "SL-1"


def test_an_unknown_device_is_rejected_by_default() -> None:
    assert reason("city/riverside/streetlight/SL-2/telemetry", reading()) == "unknown_device"


def test_an_unknown_device_is_accepted_without_a_record_when_registering() -> None:
    check = validator(register=True)
    accepted = check.check("city/riverside/streetlight/SL-2/telemetry", reading(), NOW)
    assert accepted.device is None
    assert check.auto_registered == {"SL-2"}


def test_a_device_under_another_kind_or_district_is_rejected() -> None:
    assert reason("city/riverside/water_quality/SL-1/telemetry", reading()) == "kind_mismatch"
    assert reason("city/centre/streetlight/SL-1/telemetry", reading()) == "district_mismatch"


def test_a_topic_outside_the_scheme_is_rejected() -> None:
    assert reason("city/riverside/lamp/SL-1/telemetry", reading()) == "bad_topic"
    assert reason("city/riverside/streetlight/SL-1/cmd", reading()) == "unexpected_channel"


def test_the_schema_reason_is_kept_with_its_sentence() -> None:
    with pytest.raises(PayloadRejected) as caught:
        validator().check(TOPIC, reading(power_w=5000.0), NOW)
    assert caught.value.reason == "out_of_range"
    assert "power_w 5000.0 out of range 0–1000" in caught.value.detail


def test_timestamps_beyond_the_accepted_skew_are_rejected() -> None:
    assert reason(TOPIC, reading(ts=int((NOW + 301) * 1000))) == "ts_in_future"
    assert reason(TOPIC, reading(ts=int((NOW - 86_401) * 1000))) == "ts_too_old"
    validator().check(TOPIC, reading(ts=int((NOW + 299) * 1000)), NOW)
    validator().check(TOPIC, reading(ts=int((NOW - 86_399) * 1000)), NOW)
