from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devices import Payload, StreetlightTelemetry, WaterQualityTelemetry
from ingest import NUMERIC_MEASUREMENTS, encode_lines, plate_hash, points_from_message
from ingest.points import numeric_fields
from tests.unit.ingest.samples import (
    DEVICES,
    SIGNAL,
    STREETLIGHT,
    TS_MS,
    VEHICLE_PASS,
    every_sample,
    message,
)

KEY = b"test-plate-key"


def test_streetlight_reading_becomes_one_point_with_registry_tags() -> None:
    msg = message("city/riverside/streetlight/SL-0001/telemetry", STREETLIGHT)
    [point] = points_from_message(msg, DEVICES["SL-0001"], plate_key=KEY)
    assert point.measurement == StreetlightTelemetry.measurement
    assert dict(point.tags) == {
        "cabinet": "C-01",
        "device_id": "SL-0001",
        "district": "riverside",
        "kind": "streetlight",
    }
    fields = dict(point.fields)
    assert fields["power_w"] == 82.0
    assert isinstance(fields["power_w"], float)
    assert fields["lamp_on"] is True
    assert fields["seq"] == 41
    assert fields["faults"] == "over_voltage,lamp_failure"
    assert fields["fault_count"] == 2
    assert not {"ts", "device_id"} & set(fields)


def test_water_reading_carries_river_and_section_tags() -> None:
    msg = message(
        "city/riverside/water_quality/WQ-0001/telemetry",
        {"ts": TS_MS, "seq": 1}
        | {name: 1 for name in NUMERIC_MEASUREMENTS[WaterQualityTelemetry.measurement]},
    )
    [point] = points_from_message(msg, DEVICES["WQ-0001"], plate_key=KEY)
    assert point.tag("river") == "jade"
    assert point.tag("section") == "S1"


def test_unregistered_device_is_tagged_with_the_topic_district() -> None:
    msg = message("city/riverside/streetlight/SL-9999/telemetry", STREETLIGHT)
    [point] = points_from_message(msg, None, plate_key=KEY)
    assert dict(point.tags) == {
        "device_id": "SL-9999",
        "district": "riverside",
        "kind": "streetlight",
    }


def test_traffic_signal_approaches_become_one_point_each() -> None:
    msg = message("city/centre/traffic_signal/TS-0001/telemetry", SIGNAL)
    signal, *approaches = points_from_message(msg, DEVICES["TS-0001"], plate_key=KEY)
    assert signal.measurement == "traffic_signal"
    assert signal.field("mode") == "actuated"
    assert "approaches" not in dict(signal.fields)
    assert [a.measurement for a in approaches] == ["traffic_signal_approach"] * 2
    assert [a.tag("approach") for a in approaches] == ["north", "east"]
    assert approaches[0].tag("junction") == "J-01"
    assert approaches[1].field("occupancy_pct") == 3.0
    assert {a.time_ns for a in approaches} == {signal.time_ns}


def test_plate_is_stored_only_as_its_keyed_hash() -> None:
    msg = message("city/centre/checkpoint/CP-0001/event", VEHICLE_PASS)
    [point] = points_from_message(msg, DEVICES["CP-0001"], plate_key=KEY)
    assert point.field("plate_hash") == plate_hash("沪A12345", KEY)
    assert point.field("plate_hash") != plate_hash("沪A12345", b"another key")
    assert "plate" not in dict(point.fields)
    assert "A12345" not in encode_lines([point]).decode()


def test_plate_hash_is_hmac_sha256_hex() -> None:
    # RFC 4231 test case 2.
    assert (
        plate_hash("what do ya want for nothing?", b"Jefe")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_time_is_the_millisecond_plus_seq_as_nanoseconds() -> None:
    msg = message("city/riverside/streetlight/SL-0001/telemetry", STREETLIGHT)
    [point] = points_from_message(msg, DEVICES["SL-0001"], plate_key=KEY)
    assert point.time_ns == TS_MS * 1_000_000 + 41


def test_redelivered_message_has_the_same_identity() -> None:
    msg = message("city/riverside/streetlight/SL-0001/telemetry", STREETLIGHT)
    again = message("city/riverside/streetlight/SL-0001/telemetry", STREETLIGHT)
    first = points_from_message(msg, DEVICES["SL-0001"], plate_key=KEY)
    second = points_from_message(again, DEVICES["SL-0001"], plate_key=KEY)
    assert [p.identity for p in first] == [p.identity for p in second]


def test_two_events_in_one_millisecond_have_distinct_identities() -> None:
    one = message("city/centre/checkpoint/CP-0001/event", VEHICLE_PASS)
    two = message("city/centre/checkpoint/CP-0001/event", VEHICLE_PASS | {"seq": 11})
    [a] = points_from_message(one, DEVICES["CP-0001"], plate_key=KEY)
    [b] = points_from_message(two, DEVICES["CP-0001"], plate_key=KEY)
    assert a.identity != b.identity


def test_status_without_ts_is_timed_by_arrival() -> None:
    msg = message("city/riverside/streetlight/SL-0001/status", {"online": False})
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    [point] = points_from_message(msg, DEVICES["SL-0001"], plate_key=KEY, now=now)
    assert point.measurement == "device_status"
    assert point.field("online") is False
    assert point.time_ns == int(now.timestamp()) * 1_000_000_000


@pytest.mark.parametrize(("msg", "device"), every_sample())
def test_every_kind_encodes_to_lines(msg: object, device: object) -> None:
    points = points_from_message(msg, device, plate_key=KEY)  # type: ignore[arg-type]
    body = encode_lines(points)
    assert body.count(b"\n") == len(points)


def test_downsampled_fields_are_the_numeric_measured_ones() -> None:
    assert "power_w" in NUMERIC_MEASUREMENTS["streetlight"]
    assert "seq" not in NUMERIC_MEASUREMENTS["streetlight"]
    assert "lamp_on" not in NUMERIC_MEASUREMENTS["streetlight"]
    assert set(NUMERIC_MEASUREMENTS["traffic_signal_approach"]) == {
        "queue_veh",
        "residual_queue_veh",
        "volume_veh",
        "occupancy_pct",
    }


def every_payload_model() -> list[type[Payload]]:
    found: list[type[Payload]] = []
    pending = [Payload]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if "measurement" in vars(model):
            found.append(model)
    return found


def test_every_payload_model_of_devices_has_a_storage_plan() -> None:
    models = every_payload_model()
    assert len(models) >= 10
    for model in models:
        numeric_fields(model)  # raises TypeError naming a field no line protocol type fits
