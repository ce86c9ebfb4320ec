"""Bad input gets a clear answer and harms nothing: 45 kinds of malformed message.

Each bad message is interleaved with valid readings; every valid one must arrive, every bad one
must be dead-lettered (stored and published) with its reason, and the gateway (``smartcity
gateway``, configured as in production) must stay up.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import (
    Publisher,
    dead_letters,
    fleet,
    gateway_process,
    stored_readings,
    telemetry,
    topic_of,
    unique_district,
)
from tests.support import wait_for

pytestmark = pytest.mark.timeout(120)

NOW_MS = int(time.time() * 1000)
KEPT_BYTES = 1024
GOOD = orjson.loads(telemetry("SL-0001", 0, NOW_MS, 10.0))


def reading(**changes: object) -> bytes:
    payload = dict(GOOD)
    payload.update(changes)
    return orjson.dumps(payload)


def without(name: str) -> bytes:
    payload = dict(GOOD)
    del payload[name]
    return orjson.dumps(payload)


def raw(text: str) -> bytes:
    """A payload written by hand, for what a JSON library would refuse to produce."""
    return text.encode("utf-8")


D = unique_district()
D2 = unique_district()
T = topic_of("SL-0001", district=D)
# (name, topic, payload, expected reason)
BAD: list[tuple[str, str, bytes, str]] = [
    ("not json", T, b"{bad", "malformed_json"),
    ("empty payload", T, b"", "malformed_json"),
    ("invalid utf-8", T, b"\xff\xfe\xfd", "malformed_json"),
    ("invalid utf-8 inside a string", T, b'{"ts": "\xff\xff"}', "malformed_json"),
    ("utf-8 bom", T, b"\xef\xbb\xbf" + reading(), "malformed_json"),
    ("trailing garbage", T, reading() + b" trailing", "malformed_json"),
    ("truncated json", T, reading()[:-5], "malformed_json"),
    ("json array", T, b"[1, 2, 3]", "not_an_object"),
    ("json string", T, b'"hello"', "not_an_object"),
    ("json number", T, b"42", "not_an_object"),
    ("json null", T, b"null", "not_an_object"),
    ("deep nesting", T, b"[" * 100_000 + b"]" * 100_000, "too_large"),
    (
        "deep nesting under the size limit",
        T,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "malformed_json",
    ),
    (
        "nested object in a field",
        T,
        raw('{"power_w": ' + '{"a":' * 500 + "1" + "}" * 500 + "}"),
        "malformed_json",
    ),
    ("oversized payload", T, b'{"x": "' + b"a" * 70_000 + b'"}', "too_large"),
    ("nearly a megabyte", T, b" " * 900_000, "too_large"),
    ("NaN", T, reading().replace(b'"power_w":10.0', b'"power_w":NaN'), "not_finite"),
    ("Infinity", T, reading().replace(b'"power_w":10.0', b'"power_w":Infinity'), "not_finite"),
    (
        "minus Infinity",
        T,
        reading().replace(b'"power_w":10.0', b'"power_w":-Infinity'),
        "not_finite",
    ),
    (
        "overflow to infinity",
        T,
        reading().replace(b'"power_w":10.0', b'"power_w":1e999'),
        "not_finite",
    ),
    ("missing ts", T, without("ts"), "missing_field"),
    ("missing seq", T, without("seq"), "missing_field"),
    ("missing a measured field", T, without("power_w"), "missing_field"),
    ("text for a number", T, reading(power_w="abc"), "wrong_type"),
    ("number as text", T, reading(power_w="10.0"), "wrong_type"),
    ("text for a boolean", T, reading(lamp_on="yes"), "wrong_type"),
    ("boolean for a number", T, reading(power_w=True), "wrong_type"),
    ("null for a boolean", T, reading(lamp_on=None), "wrong_type"),
    ("negative seq", T, reading(seq=-1), "out_of_range"),
    ("fractional seq", T, reading(seq=1.5), "wrong_type"),
    ("huge seq", T, reading(seq=2**60), "out_of_range"),
    ("out of range power", T, reading(power_w=5000.0), "out_of_range"),
    ("negative voltage", T, reading(voltage_v=-1.0), "out_of_range"),
    ("power factor above one", T, reading(power_factor=1.5), "out_of_range"),
    ("unknown field", T, reading(colour="red"), "unknown_field"),
    ("unknown fault flag", T, reading(faults=["melted"]), "invalid_value"),
    ("ts a day ahead", T, reading(ts=NOW_MS + 86_400_000), "ts_in_future"),
    ("ts in 1980", T, reading(ts=315_532_800_000), "ts_too_old"),
    ("ts as words", T, reading(ts="yesterday"), "bad_timestamp"),
    ("ts without offset", T, reading(ts="2024-01-01T00:00:00"), "bad_timestamp"),
    ("negative ts", T, reading(ts=-5), "bad_timestamp"),
    ("boolean ts", T, reading(ts=True), "bad_timestamp"),
    ("payload naming another device", T, reading(device_id="SL-0002"), "device_mismatch"),
    ("unknown device", topic_of("SL-9999", district=D), reading(), "unknown_device"),
    (
        "registered device under another kind",
        f"city/{D}/water_quality/SL-0001/telemetry",
        reading(),
        "kind_mismatch",
    ),
    (
        "registered device in another district",
        f"city/{D2}/streetlight/SL-0001/telemetry",
        reading(),
        "district_mismatch",
    ),
    (
        "event a streetlight cannot send",
        topic_of("SL-0001", "event", district=D),
        reading(),
        "unexpected_channel",
    ),
    (
        "cmd_result that is a reading",
        topic_of("SL-0001", "cmd_result", district=D),
        reading(),
        "missing_field",
    ),
    (
        "status that is not a boolean",
        topic_of("SL-0001", "status", district=D),
        b'{"online": "maybe"}',
        "wrong_type",
    ),
    (
        "status with an unknown field",
        topic_of("SL-0001", "status", district=D),
        b'{"online": true, "mood": "ok"}',
        "unknown_field",
    ),
    (
        "very long text field",
        topic_of("SL-0001", "status", district=D),
        orjson.dumps({"online": True, "firmware": "x" * 10_000}),
        "invalid_value",
    ),
]


def test_every_bad_message_is_dead_lettered_with_its_reason_and_the_valid_ones_arrive(
    make_mosquitto: Callable[..., LocalMosquitto],
    influxdb: LocalInfluxDB,
    influx_database: str,
    tmp_path: Path,
) -> None:
    assert len(BAD) >= 40
    # a broker of its own: the gateway subscribes as in production, to every device's uplink
    # channels, and no retained message another test left behind reaches it
    mosquitto = make_mosquitto()
    registry = fleet(3, district=D)
    gateway = gateway_process(
        tmp_path,
        registry,
        mqtt_port=mosquitto.port,
        influx_url=influxdb.url,
        database=influx_database,
        deadletter_payload_max_bytes=KEPT_BYTES,
    )
    gateway.start()
    valid_power = 0.0
    publisher = Publisher(mosquitto.port)
    try:
        number = 0
        for seq, (_, topic, payload, _) in enumerate(BAD):
            for device in ("SL-0000", "SL-0002"):
                power = float(seq)
                valid_power += power
                publisher.publish(
                    number,
                    topic_of(device, district=D),
                    telemetry(device, seq, NOW_MS + seq, power),
                )
                number += 1
            publisher.publish(number, topic, payload)
            number += 1
        assert publisher.wait_settled()
        assert len(publisher.accepted) == number
        expected_valid = 2 * len(BAD)

        def handled() -> float:
            return gateway.metric("gateway_messages_stored") + gateway.metric(
                "gateway_messages_rejected"
            )

        assert wait_for(lambda: handled() == number, timeout_s=60), handled()
        stored = gateway.metric("gateway_messages_stored")
        rejected = gateway.metric("gateway_messages_rejected")
        assert gateway.metric("gateway_broker_connected") == 1
        assert gateway.alive()
    finally:
        publisher.close()
        gateway.stop()
    print(f"\nvalid {stored:.0f}, dead-lettered {rejected:.0f}")
    assert stored == expected_valid
    count, power_sum = stored_readings(influxdb.url, influx_database)
    assert (count, power_sum) == (expected_valid, valid_power)
    letters = dead_letters(influxdb.url, influx_database)
    found = {}
    for row in letters:
        found[(row["topic"], base64.b64decode(row["payload_b64"]))] = row["reason"]
    wrong = []
    for name, topic, payload, reason in BAD:
        got = found.get((topic, payload[:KEPT_BYTES]))
        if got != reason:
            wrong.append(f"{name}: expected {reason}, got {got}")
    assert not wrong, "\n".join(wrong)
    assert len(letters) == len(BAD)
