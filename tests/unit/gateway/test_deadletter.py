"""A dead letter carries the original bytes safely, bounded, with topic, reason and time."""

from __future__ import annotations

import base64

import orjson

from gateway import DeadLetter, PayloadRejected
from ingest import encode_lines


def letter(payload: bytes, topic: str = "city/riverside/streetlight/SL-1/telemetry") -> DeadLetter:
    rejected = PayloadRejected(topic, "malformed_json", "not JSON")
    return DeadLetter.of(rejected, payload, 1_800_000_000.5, 1_800_000_000_500_000_000)


def test_the_published_message_holds_the_payload_in_base64_cut_at_the_bound() -> None:
    payload = b"\xff\x00" + b"x" * 5000
    message = orjson.loads(letter(payload).message(1024))
    assert message["reason"] == "malformed_json"
    assert message["received_at"] == "2027-01-15T08:00:00.500Z"
    assert base64.b64decode(message["payload_b64"]) == payload[:1024]
    assert message["payload_bytes"] == len(payload)
    assert message["payload_truncated"] is True


def test_the_stored_point_is_tagged_by_reason_and_device_and_encodes_safely() -> None:
    point = letter(b'{"a": "\n\\"}').point(1024)
    assert point.measurement == "deadletter"
    assert point.tag("reason") == "malformed_json"
    assert point.tag("device_id") == "SL-1"
    line = encode_lines([point])
    assert line.count(b"\n") <= 1


def test_a_topic_outside_the_scheme_is_kept_as_text_and_untagged() -> None:
    point = letter(b"", topic="a/b\\c" + "z" * 2000).point(1024)
    assert point.tag("device_id") is None
    topic = point.field("topic")
    assert isinstance(topic, str)
    assert len(topic) <= 512
    assert letter(b"").publish_topic == "city/deadletter/malformed_json"


KEY = b"plate-key"
PLATE = "沪A12345"


def test_a_plate_in_a_rejected_payload_becomes_its_keyed_hash() -> None:
    from gateway import redact_personal
    from ingest import plate_hash

    payload = orjson.dumps({"event": "vehicle_pass", "plate": PLATE, "speed_kmh": 999})
    redacted = redact_personal(payload, KEY)
    assert PLATE.encode() not in redacted
    assert orjson.loads(redacted)["plate"] == "plate_hash:" + plate_hash(PLATE, KEY)
    message = letter(redacted).message(1024)
    assert PLATE.encode() not in base64.b64decode(orjson.loads(message)["payload_b64"])


def test_a_plate_in_broken_or_escaped_json_is_hidden_too() -> None:
    from gateway import redact_personal

    escaped = b'{"pl\\u0061te": "' + PLATE.encode("unicode_escape") + b'", "lane": 1}'
    cut = b'{"event": "vehicle_pass", "plate": "' + PLATE.encode() + b'", "spe'
    open_ended = b'{"plate": "' + PLATE.encode()
    for payload in (escaped, cut, open_ended):
        redacted = redact_personal(payload, KEY)
        assert PLATE.encode() not in redacted, payload
        assert PLATE.encode("unicode_escape") not in redacted, payload
        assert b"plate_hash:" in redacted


def test_a_payload_without_a_plate_is_kept_byte_for_byte() -> None:
    from gateway import redact_personal

    payload = b'{"ph": 15.3,   "seq": 1}'
    assert redact_personal(payload, KEY) is payload
