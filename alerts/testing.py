"""Rule unit tests, in the spirit of ``promtool test rules``: series in, alerts expected out.

A test file names the rule files it tests, a small fleet, a start time, and tests. Each test
gives input series for devices over simulated time and the alerts expected to be firing (and
optionally pending) at given moments; anything else firing is a failure::

    rule_files: [../streetlight.yaml]
    registry:
      city: {latitude: 31.23, longitude: 121.47, timezone: Asia/Shanghai}
      devices:
        - {id: SL-1, kind: streetlight, district: riverside, cabinet: C-01}
    start: "2026-06-21T00:00:00+08:00"
    tests:
      - name: a lamp burning at noon fires after 15 minutes
        series:
          - {device: SL-1, every: 5m, from: 11h, until: 13h, fields: {lamp_on: true, power_w: 80}}
        expect:
          - {at: 11h10m, firing: []}
          - at: 11h20m
            firing: [{rule: lamp-on-in-daylight, labels: {device: SL-1}}]

Payload fields not given take a healthy default for the kind; every reading goes through the
real decoder, so a series that a device could not send is an error, not a silent pass. Time
advances in ``tick`` steps (default 1m) with the engine's timers run at each step.

A message arrives when it is measured, unless the series says otherwise:

- ``arrives_at: 2h``: every message measured before 2h arrives at 2h, in order, with its own
  ``ts`` (a camera uploading what it buffered through an outage); later ones arrive live;
- ``clock_skew: 1h`` (``clock_behind: true``): the device's clock runs an hour fast (slow), so
  its ``ts`` is off while it arrives on time;
- ``repeat_each: true``: every message is delivered twice (a QoS 1 redelivery).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.durations import Duration, format_duration
from alerts.errors import PayloadRejectedInTest, RuleTestFileInvalid
from alerts.evaluate import Evaluator
from alerts.interface import Observation
from alerts.model import Alert, AlertState
from alerts.rules import RuleSet, load_rules
from devices import (
    Channel,
    City,
    DeviceError,
    DeviceRecord,
    Kind,
    Registry,
    Topic,
    YamlFileInvalid,
    decode_message,
    describe_validation_error,
    line_of,
    read_with_lines,
    strip_lines,
    validation_problems,
)

__all__ = ["HEALTHY_FIELDS", "RuleTestReport", "run_rule_tests"]

HEALTHY_FIELDS: dict[tuple[Kind, str], dict[str, Any]] = {
    (Kind.STREETLIGHT, "telemetry"): {
        "power_w": 0.0,
        "voltage_v": 220.0,
        "current_a": 0.0,
        "power_factor": 0.95,
        "energy_kwh": 1000.0,
        "lamp_on": False,
        "dimming_pct": 0.0,
        "ambient_lux": 500.0,
        "lamp_temp_c": 25.0,
    },
    (Kind.WATER_QUALITY, "telemetry"): {
        "water_temp_c": 18.0,
        "ph": 7.4,
        "dissolved_oxygen_mg_l": 7.0,
        "permanganate_index_mg_l": 3.0,
        "ammonia_mg_l": 0.3,
        "total_phosphorus_mg_l": 0.08,
        "turbidity_ntu": 12.0,
        "conductivity_us_cm": 450.0,
    },
    (Kind.TRAFFIC_SIGNAL, "telemetry"): {
        "mode": "actuated",
        "plan_id": 1,
        "phase": 1,
        "cycle_s": 90.0,
        "approaches": [
            {"approach": "north", "queue_veh": 3, "volume_veh": 20, "occupancy_pct": 10.0},
            {"approach": "south", "queue_veh": 3, "volume_veh": 20, "occupancy_pct": 10.0},
        ],
    },
    (Kind.TRAFFIC_SIGNAL, "event"): {"event": "fault", "fault": "lamp_out", "active": True},
    (Kind.CHECKPOINT, "telemetry"): {
        "online": True,
        "fps": 25.0,
        "storage_used_pct": 40.0,
        "temp_c": 30.0,
        "vehicles_per_min": 20.0,
    },
    (Kind.CHECKPOINT, "event"): {
        "event": "violation",
        "violation": "red_light",
        "plate": "TEST001",
        "evidence_id": "ev-1",
        "lane": 1,
    },
    (Kind.STREETLIGHT, "status"): {"online": True},
    (Kind.WATER_QUALITY, "status"): {"online": True},
    (Kind.TRAFFIC_SIGNAL, "status"): {"online": True},
    (Kind.CHECKPOINT, "status"): {"online": True},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Change(_Strict):
    at: Duration
    fields: dict[str, Any]


class _Series(_Strict):
    device: str | None = None
    devices: tuple[str, ...] = ()
    channel: Literal["telemetry", "event", "status"] = "telemetry"
    every: Duration | None = None
    from_: Duration = Field(default=timedelta(0), alias="from")
    until: Duration | None = None
    at: tuple[Duration, ...] = ()
    fields: dict[str, Any] = Field(default_factory=dict)
    cycle: dict[str, tuple[Any, ...]] = Field(
        default_factory=dict, description="values a field takes in turn, one per message"
    )
    changes: tuple[_Change, ...] = ()
    clock_skew: Duration = timedelta(0)
    clock_behind: bool = False
    arrives_at: Duration | None = Field(
        default=None,
        description="messages measured before this arrive all at once then (a buffered upload)",
    )
    repeat_each: bool = Field(default=False, description="send every message twice")


class _Expected(_Strict):
    rule: str
    labels: dict[str, str] = Field(default_factory=dict)
    summary_contains: str | None = None


class _Expectation(_Strict):
    at: Duration
    firing: tuple[_Expected, ...] = ()
    pending: tuple[_Expected, ...] | None = None
    rules: tuple[str, ...] | None = Field(
        default=None, description="compare only these rules' alerts (default: every rule)"
    )


class _Test(_Strict):
    name: str = Field(min_length=1)
    start: datetime | None = None
    tick: Duration | None = None
    series: tuple[_Series, ...] = ()
    expect: tuple[_Expectation, ...] = Field(min_length=1)


class _TestFile(_Strict):
    rule_files: tuple[str, ...] = Field(min_length=1)
    registry: dict[str, Any]
    start: datetime
    tick: Duration = timedelta(minutes=1)
    max_clock_skew: Duration = timedelta(minutes=5)
    tests: tuple[_Test, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class RuleTestReport:
    """The outcome of one rule test: its name, and what went wrong (empty: it passed)."""

    file: str
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every expectation held."""
        return not self.failures


def _load(path: Path) -> _TestFile:
    where = str(path)
    try:
        document = read_with_lines(path)
    except YamlFileInvalid as exc:
        raise RuleTestFileInvalid(where, exc.reason, line=exc.line) from exc
    try:
        return _TestFile.model_validate(strip_lines(document))
    except ValidationError as exc:
        problem = validation_problems(exc)[0]
        location = list(problem.location)
        test = None
        if len(location) >= 2 and location[0] == "tests" and isinstance(location[1], int):
            tests = document.get("tests") if isinstance(document, dict) else None
            if isinstance(tests, list) and location[1] < len(tests):
                test = tests[location[1]].get("name")
        raise RuleTestFileInvalid(
            where,
            problem.message,
            line=line_of(document, location),
            rule=test if isinstance(test, str) else None,
            field=problem.field,
        ) from None


def _registry(spec: dict[str, Any], where: str) -> Registry:
    try:
        city = City.model_validate(spec.get("city") or {})
        records = [DeviceRecord.model_validate(entry) for entry in spec.get("devices") or []]
        return Registry.from_records(records, city=city)
    except ValidationError as exc:
        reason = describe_validation_error(exc)
        raise RuleTestFileInvalid(where, f"registry: {reason}", field="registry") from exc
    except ValueError as exc:
        raise RuleTestFileInvalid(where, f"registry: {exc}", field="registry") from exc


def _messages(
    series: _Series, registry: Registry, start: datetime, end: timedelta, where: str
) -> list[tuple[timedelta, Observation]]:
    names = [*([series.device] if series.device else []), *series.devices]
    if not names:
        raise RuleTestFileInvalid(where, "a series needs 'device' or 'devices'", field="series")
    out: list[tuple[timedelta, Observation]] = []
    for name in names:
        out.extend(_device_messages(series, name, registry, start, end, where))
    return out


def _device_messages(
    series: _Series, device: str, registry: Registry, start: datetime, end: timedelta, where: str
) -> list[tuple[timedelta, Observation]]:
    record = registry.get(device)
    if record is None:
        raise RuleTestFileInvalid(where, f"device {device!r} is not in the test registry")
    if series.every is not None:
        stop = series.until if series.until is not None else end
        offsets: list[timedelta] = []
        offset = series.from_
        while offset <= stop:
            offsets.append(offset)
            offset += series.every
    else:
        offsets = list(series.at)
    topic = Topic(record.district, record.kind, record.id, Channel(series.channel))
    out: list[tuple[timedelta, Observation]] = []
    for seq, offset in enumerate(offsets):
        fields = dict(HEALTHY_FIELDS.get((record.kind, series.channel), {}))
        fields.update(series.fields)
        for name, values in series.cycle.items():
            if values:
                fields[name] = values[seq % len(values)]
        for change in series.changes:
            if change.at <= offset:
                fields.update(change.fields)
        true_time = start + offset
        skew = -series.clock_skew if series.clock_behind else series.clock_skew
        if series.channel != "status" or "ts" not in fields:
            fields["ts"] = int((true_time + skew).timestamp() * 1000)
        if series.channel != "status":
            fields["seq"] = seq
        try:
            message = decode_message(topic, orjson.dumps(fields))
        except DeviceError as exc:
            raise PayloadRejectedInTest(where, device, str(exc)) from exc
        arrival = offset if series.arrives_at is None else max(offset, series.arrives_at)
        observation = Observation(message, record, start + arrival)
        out.append((arrival, observation))
        if series.repeat_each:
            out.append((offset, observation))
    return out


def _matches(alert: Alert, expected: _Expected) -> bool:
    if expected.summary_contains is not None and expected.summary_contains not in alert.summary:
        return False
    return alert.rule == expected.rule and all(
        alert.labels.get(key) == value for key, value in expected.labels.items()
    )


def _show(alert: Alert) -> str:
    labels = ",".join(
        f"{key}={alert.labels[key]}" for key in sorted(alert.labels) if key not in ("kind",)
    )
    return f"{alert.rule}{{{labels}}}"


def _compare(
    state: str, alerts: list[Alert], expected: tuple[_Expected, ...], at: timedelta
) -> list[str]:
    remaining = list(alerts)
    problems: list[str] = []
    for item in expected:
        found = next((alert for alert in remaining if _matches(alert, item)), None)
        if found is None:
            labels = ",".join(f"{k}={v}" for k, v in sorted(item.labels.items()))
            problems.append(
                f"at {format_duration(at)}: expected {state} {item.rule}{{{labels}}}, not found"
            )
        else:
            remaining.remove(found)
    for alert in remaining:
        problems.append(f"at {format_duration(at)}: unexpected {state} {_show(alert)}")
    return problems


def _run_test(
    test: _Test, spec: _TestFile, rules: RuleSet, registry: Registry, where: str
) -> RuleTestReport:
    start = test.start or spec.start
    step = test.tick or spec.tick
    end = max(expectation.at for expectation in test.expect)
    queue: list[tuple[timedelta, int, Observation]] = []
    counter = 0
    for series in test.series:
        for offset, observation in _messages(series, registry, start, end, where):
            queue.append((offset, counter, observation))
            counter += 1
    heapq.heapify(queue)
    evaluator = Evaluator(rules, registry, max_clock_skew=spec.max_clock_skew, started_at=start)
    failures: list[str] = []
    checks = sorted(test.expect, key=lambda expectation: expectation.at)
    now = timedelta(0)
    while checks:
        target = min(now + step, checks[0].at)
        while queue and queue[0][0] <= target:
            _, _, observation = heapq.heappop(queue)
            evaluator.observe(observation)
        evaluator.tick(start + target)
        now = target
        while checks and checks[0].at <= now:
            check = checks.pop(0)
            active = [
                alert
                for alert in evaluator.active()
                if check.rules is None or alert.rule in check.rules
            ]
            firing = [alert for alert in active if alert.state is AlertState.FIRING]
            failures.extend(_compare("firing", firing, check.firing, check.at))
            if check.pending is not None:
                pending = [alert for alert in active if alert.state is AlertState.PENDING]
                failures.extend(_compare("pending", pending, check.pending, check.at))
    return RuleTestReport(where, test.name, failures)


def run_rule_tests(path: str | Path) -> list[RuleTestReport]:
    """Run every test of a rule test file (or every ``*.test.yaml`` under a folder)."""
    target = Path(path)
    files = sorted(target.rglob("*.test.yaml")) if target.is_dir() else [target]
    if not files:
        raise RuleTestFileInvalid(str(path), "no rule test files (*.test.yaml) found")
    reports: list[RuleTestReport] = []
    for file in files:
        where = str(file)
        spec = _load(file)
        rules_path = [file.parent / name for name in spec.rule_files]
        rule_sets = [load_rules(item) for item in rules_path]
        rules = RuleSet(
            tuple(rule for rule_set in rule_sets for rule in rule_set),
            tuple(source for rule_set in rule_sets for source in rule_set.sources),
        )
        registry = _registry(spec.registry, where)
        for test in spec.tests:
            reports.append(_run_test(test, spec, rules, registry, where))
    return reports
