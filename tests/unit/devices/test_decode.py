from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import (
    PayloadInvalid,
    SignalMode,
    StreetlightTelemetry,
    TopicInvalid,
    TrafficSignalTelemetry,
    VehiclePass,
    WaterQualityTelemetry,
    decode_message,
)

WQ_TOPIC = "city/riverside/water_quality/WQ-0042/telemetry"
WATER = {
    "ts": "2026-11-23T10:00:00Z",
    "seq": 7,
    "water_temp_c": 12.5,
    "ph": 7.2,
    "dissolved_oxygen_mg_l": 8.1,
    "permanganate_index_mg_l": 3.0,
    "ammonia_mg_l": 0.3,
    "total_phosphorus_mg_l": 0.05,
    "turbidity_ntu": 10,
    "conductivity_us_cm": 420,
}


def encode(payload: dict[str, object]) -> bytes:
    return orjson.dumps(payload)


def test_a_valid_reading_decodes_field_by_field() -> None:
    message = decode_message(WQ_TOPIC, encode(WATER))
    assert message.topic.device_id == "WQ-0042"
    payload = message.payload
    assert isinstance(payload, WaterQualityTelemetry)
    assert payload.ts == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert (payload.seq, payload.ph, payload.turbidity_ntu) == (7, 7.2, 10.0)


def test_epoch_milliseconds_and_offsets_mean_the_same_instant() -> None:
    as_ms = decode_message(WQ_TOPIC, encode({**WATER, "ts": 1_795_428_000_000}))
    as_offset = decode_message(WQ_TOPIC, encode({**WATER, "ts": "2026-11-23T18:00:00+08:00"}))
    assert as_ms.payload.ts == as_offset.payload.ts == datetime(2026, 11, 23, 10, tzinfo=UTC)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "code", "reason"),
    [
        ({"ph": 15.3}, "out_of_range", "water_quality WQ-0042: ph 15.3 out of range 0–14"),
        ({"ammonia_mg_l": -1}, "out_of_range", "ammonia_mg_l -1 out of range 0–100"),
        ({"seq": "7"}, "wrong_type", "seq"),
        ({"ph": True}, "wrong_type", "ph"),
        ({"colour": "brown"}, "unknown_field", "unknown field 'colour'"),
        ({"ts": "2026-11-23T10:00:00"}, "bad_timestamp", "has no UTC offset"),
        ({"ts": "yesterday"}, "bad_timestamp", "is not RFC 3339"),
        ({"ts": -5}, "bad_timestamp", "not epoch milliseconds"),
        ({"device_id": "WQ-0001"}, "device_mismatch", "names device 'WQ-0001'"),
    ],
)
def test_bad_fields_are_refused_with_a_reason_a_person_can_act_on(
    change: dict[str, object], code: str, reason: str
) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        decode_message(WQ_TOPIC, encode({**WATER, **change}))
    assert caught.value.code == code
    assert reason in caught.value.reason


def test_missing_field_is_named() -> None:
    payload = {key: value for key, value in WATER.items() if key != "ph"}
    with pytest.raises(PayloadInvalid, match="ph is missing") as caught:
        decode_message(WQ_TOPIC, encode(payload))
    assert caught.value.field == "ph"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (encode(WATER).replace(b"7.2", b"NaN"), "not_finite"),
        (encode(WATER).replace(b"7.2", b"-Infinity"), "not_finite"),
        (encode(WATER).replace(b"7.2", b"1e999"), "not_finite"),
        (b"\xff\xfe\x00garbage", "malformed_json"),
        (b"[" * 10_000 + b"]" * 10_000, "malformed_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (b"", "malformed_json"),
        (b"x" * (64 * 1024 + 1), "too_large"),
    ],
)
def test_malformed_bytes_are_refused_not_raised(data: bytes, code: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        decode_message(WQ_TOPIC, data)
    assert caught.value.code == code


def test_a_kind_without_events_refuses_the_event_channel() -> None:
    with pytest.raises(PayloadInvalid) as caught:
        decode_message("city/riverside/water_quality/WQ-0042/event", encode(WATER))
    assert caught.value.code == "unexpected_channel"


def test_checkpoint_events_are_told_apart_by_their_event_field() -> None:
    message = decode_message(
        "city/centre/checkpoint/CP-1/event",
        encode(
            {
                "ts": 1_795_428_000_000,
                "seq": 1,
                "event": "vehicle_pass",
                "plate": "沪A12345",
                "vehicle_class": "bus",
                "speed_kmh": 41.5,
                "lane": 2,
                "direction": "inbound",
            }
        ),
    )
    assert isinstance(message.payload, VehiclePass)
    assert message.payload.plate == "沪A12345"
    with pytest.raises(PayloadInvalid):
        decode_message(
            "city/centre/checkpoint/CP-1/event",
            encode({"ts": 1, "seq": 1, "event": "teleport"}),
        )


def test_traffic_signal_reports_each_approach() -> None:
    message = decode_message(
        "city/centre/traffic_signal/TS-1/telemetry",
        encode(
            {
                "ts": 1_795_428_000_000,
                "seq": 3,
                "mode": "actuated",
                "plan_id": 2,
                "phase": 1,
                "cycle_s": 90,
                "approaches": [
                    {"approach": "north", "queue_veh": 4, "volume_veh": 30, "occupancy_pct": 12},
                    {"approach": "east", "queue_veh": 9, "volume_veh": 41, "occupancy_pct": 25.5},
                ],
            }
        ),
    )
    payload = message.payload
    assert isinstance(payload, TrafficSignalTelemetry)
    assert payload.mode is SignalMode.ACTUATED
    assert [a.queue_veh for a in payload.approaches] == [4, 9]


def test_status_last_will_needs_no_timestamp() -> None:
    message = decode_message("city/riverside/streetlight/SL-1/status", b'{"online": false}')
    assert message.payload.online is False  # type: ignore[attr-defined]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@given(st.binary(max_size=300))
def test_decoding_any_bytes_yields_a_message_or_payload_invalid(data: bytes) -> None:
    try:
        decode_message("city/riverside/streetlight/SL-1/telemetry", data)
    except PayloadInvalid as exc:
        assert exc.code
        assert exc.reason


@given(
    st.dictionaries(
        st.sampled_from([*WATER.keys(), "device_id", "extra"]), json_values, max_size=12
    )
)
def test_decoding_any_json_object_yields_a_message_or_payload_invalid(
    payload: dict[str, object],
) -> None:
    try:
        message = decode_message(WQ_TOPIC, json.dumps(payload).encode())
    except PayloadInvalid as exc:
        assert exc.code
        assert exc.reason
    except TopicInvalid:  # pragma: no cover - the topic is fixed and valid
        pytest.fail("topic refused")
    else:
        reading = message.payload
        assert isinstance(reading, WaterQualityTelemetry)
        assert 0 <= reading.ph <= 14
        assert math.isfinite(reading.ph)


def test_streetlight_fault_flags_are_an_enumerated_set() -> None:
    base = {
        "ts": 1_795_428_000_000,
        "seq": 1,
        "power_w": 0,
        "voltage_v": 229.5,
        "current_a": 0,
        "power_factor": 0,
        "energy_kwh": 1200.5,
        "lamp_on": False,
        "dimming_pct": 0,
        "ambient_lux": 3.5,
        "lamp_temp_c": 11,
        "faults": ["lamp_failure"],
    }
    topic = "city/riverside/streetlight/SL-1/telemetry"
    payload = decode_message(topic, encode(base)).payload
    assert isinstance(payload, StreetlightTelemetry)
    assert [fault.value for fault in payload.faults] == ["lamp_failure"]
    with pytest.raises(PayloadInvalid, match="faults"):
        decode_message(topic, encode({**base, "faults": ["gremlins"]}))


def test_a_rejected_plate_is_never_quoted_back_in_the_reason() -> None:
    from devices import PayloadInvalid, decode_message

    payload = (
        b'{"ts": 1764000000000, "seq": 1, "event": "vehicle_pass", "plate": "AB 12 CD",'
        b' "vehicle_class": "car", "speed_kmh": 50, "lane": 1, "direction": "inbound"}'
    )
    with pytest.raises(PayloadInvalid) as caught:
        decode_message("city/centre/checkpoint/CP-0001/event", payload)
    assert "AB 12 CD" not in str(caught.value)
    assert "withheld" in caught.value.reason
