"""Building observations and engines for the alerts tests: real decoding, a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from alerts import Evaluator, Observation, RuleSet, parse_rules
from alerts.testing import HEALTHY_FIELDS
from devices import Channel as DeviceChannel
from devices import (
    City,
    DeviceRecord,
    Kind,
    Registry,
    Topic,
    WaterClass,
    decode_message,
)

T0 = datetime(2026, 6, 21, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: broad daylight
CITY = City(name="Test City", latitude=31.23, longitude=121.47, timezone="Asia/Shanghai")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def registry() -> Registry:
    """Six lights in two cabinets, three river stations, two junctions, two cameras."""
    records = [
        DeviceRecord(id=f"SL-{n}", kind=Kind.STREETLIGHT, district="riverside", cabinet="C-01")
        for n in range(1, 6)
    ]
    records.append(
        DeviceRecord(id="SL-6", kind=Kind.STREETLIGHT, district="riverside", cabinet="C-02")
    )
    for n in range(1, 4):
        records.append(
            DeviceRecord(
                id=f"WQ-{n}",
                kind=Kind.WATER_QUALITY,
                district="riverside",
                river="jade",
                section=f"S{n}",
                section_order=n,
                target_class=WaterClass.III,
            )
        )
    for n in range(1, 3):
        records.append(
            DeviceRecord(
                id=f"TS-{n}", kind=Kind.TRAFFIC_SIGNAL, district="centre", junction=f"J-{n}"
            )
        )
        records.append(DeviceRecord(id=f"CP-{n}", kind=Kind.CHECKPOINT, district="centre"))
    return Registry.from_records(records, city=CITY)


REGISTRY = registry()


def observe_in(
    registry: Registry,
    device: str,
    at: datetime,
    *,
    channel: str = "telemetry",
    seq: int = 0,
    **fields: Any,
) -> Observation:
    """``observe`` for a device of another registry."""
    record = registry[device]
    body = dict(HEALTHY_FIELDS[(record.kind, channel)])
    body.update(fields)
    if channel != "status":
        body["ts"] = int(at.timestamp() * 1000)
        body["seq"] = seq
    topic = Topic(record.district, record.kind, record.id, DeviceChannel(channel))
    return Observation(decode_message(topic, orjson.dumps(body)), record, at)


def observe(
    device: str,
    at: datetime,
    *,
    channel: str = "telemetry",
    seq: int = 0,
    ts: datetime | None = None,
    **fields: Any,
) -> Observation:
    """A device message as the gateway hands it over, built through the real decoder."""
    record = REGISTRY[device]
    body = dict(HEALTHY_FIELDS[(record.kind, channel)])
    body.update(fields)
    if channel != "status":
        body["ts"] = int((ts or at).timestamp() * 1000)
        body["seq"] = seq
    topic = Topic(record.district, record.kind, record.id, DeviceChannel(channel))
    return Observation(decode_message(topic, orjson.dumps(body)), record, at)


def rules(text: str) -> RuleSet:
    """A rule set from YAML text."""
    return RuleSet(tuple(rule for rule, _ in parse_rules(text, "test.yaml")), ("test.yaml",))


def rule(kind: str, condition: str, *, extra: str = "", name: str = "r") -> RuleSet:
    """One rule of ``kind`` with a flow-style ``condition`` and extra rule lines."""
    return rules(
        f"""
rules:
  - name: {name}
    kind: {kind}
    severity: warning
    summary: "{{device}} {{value}}"
    runbook: https://runbooks.example/r
    condition: {condition}
{extra}
"""
    )


def evaluator(rule_set: RuleSet, *, started_at: datetime = T0) -> Evaluator:
    """An evaluator over the test registry, 5 minutes of clock skew allowed."""
    return Evaluator(rule_set, REGISTRY, max_clock_skew=timedelta(minutes=5), started_at=started_at)


def firing(ev: Evaluator) -> list[str]:
    """``rule/subject`` of every firing alert, sorted."""
    return sorted(
        f"{a.rule}/{a.labels.get('device') or a.labels.get('cabinet')}"
        for a in ev.active()
        if a.state.value == "firing"
    )


def pending(ev: Evaluator) -> list[str]:
    """``rule/subject`` of every pending alert, sorted."""
    return sorted(
        f"{a.rule}/{a.labels.get('device') or a.labels.get('cabinet')}"
        for a in ev.active()
        if a.state.value == "pending"
    )
