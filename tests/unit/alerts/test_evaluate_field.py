"""Rules that hold in the field (issue 13), on a fake clock: sparse samples and ``for:``,
``for_samples``, staleness, ``keep_firing_for``, gates that hold a live cause, per-device
schedules, a delta over N samples, latched faults, and late data judged at its own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from alerts import ChangeKind, Evaluator, Observation, RuleSet, Transition, load_rules
from alerts.testing import run_rule_tests
from devices import Channel, DeviceRecord, Kind, Registry, Topic, decode_message
from tests.unit.alerts.factory import (
    CITY,
    REGISTRY,
    T0,
    evaluator,
    firing,
    observe,
    observe_in,
    pending,
    rule,
)

M = timedelta(minutes=1)
PACK = load_rules(Path(__file__).parents[3] / "config" / "rules")


def changes(transitions: list[Transition]) -> list[ChangeKind]:
    return [t.change for t in transitions if t.change is not None]


def hot(extra: str) -> RuleSet:
    return rule(
        "streetlight", "{type: threshold, field: lamp_temp_c, above: 80, clear: 70}", extra=extra
    )


# --- for: over sparse samples --------------------------------------------------------------------


def test_a_pending_alert_fires_on_a_fresh_sample_after_for_never_on_a_bare_tick():
    ev = evaluator(hot("    for: 20m"))
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))  # one sample an hour, say
    assert changes(ev.tick(T0 + 20 * M)) == []
    assert changes(ev.tick(T0 + 59 * M)) == []
    assert pending(ev) == ["r/SL-1"]
    fired = ev.observe(observe("SL-1", T0 + 60 * M, seq=1, lamp_temp_c=85))
    assert changes(fired) == [ChangeKind.FIRING]
    assert fired[-1].alert.fired_at == T0 + 60 * M


def test_for_samples_needs_that_many_matching_samples_in_a_row():
    ev = evaluator(hot("    for_samples: 3"))
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))
    ev.observe(observe("SL-1", T0 + M, seq=1, lamp_temp_c=85))
    ev.observe(observe("SL-1", T0 + 2 * M, seq=2, lamp_temp_c=60))  # resets
    assert pending(ev) == []
    ev.observe(observe("SL-1", T0 + 3 * M, seq=3, lamp_temp_c=85))
    ev.observe(observe("SL-1", T0 + 4 * M, seq=4, lamp_temp_c=85))
    assert firing(ev) == []
    third = ev.observe(observe("SL-1", T0 + 5 * M, seq=5, lamp_temp_c=85))
    assert changes(third) == [ChangeKind.FIRING]


# --- staleness -----------------------------------------------------------------------------------


def test_a_stale_reading_resets_a_pending_alert():
    ev = evaluator(hot("    for: 10m\n    stale_after: 30m"))
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))
    ev.tick(T0 + 30 * M)
    assert pending(ev) == ["r/SL-1"]
    ev.tick(T0 + 31 * M)
    assert pending(ev) == []
    assert firing(ev) == []


def test_a_firing_alert_on_a_stale_reading_resolves_saying_so():
    ev = evaluator(hot("    for: 10m\n    stale_after: 30m"))
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))
    ev.observe(observe("SL-1", T0 + 10 * M, seq=1, lamp_temp_c=85))
    assert firing(ev) == ["r/SL-1"]
    assert changes(ev.tick(T0 + 40 * M)) == []
    resolved = ev.tick(T0 + 41 * M)
    assert changes(resolved) == [ChangeKind.RESOLVED]
    assert resolved[0].alert.resolution == "reading stale: none since 10:10"  # local time


def test_a_reading_already_stale_when_it_arrives_raises_nothing():
    ev = evaluator(hot("    stale_after: 30m"))
    ev.observe(observe("SL-1", T0 + 60 * M, ts=T0, lamp_temp_c=85))  # uploaded an hour late
    assert ev.active() == []


# --- keep_firing_for -----------------------------------------------------------------------------


def test_keep_firing_for_rides_out_a_flap_without_announcing_it():
    dark = rule(
        "traffic_signal",
        '{type: state, field: mode, equals: "off"}',
        extra="    keep_firing_for: 5m",
    )
    ev = evaluator(dark)
    seen = ev.observe(observe("TS-1", T0, mode="off"))
    seen += ev.observe(observe("TS-1", T0 + M, seq=1, mode="fixed"))
    seen += ev.tick(T0 + 2 * M)
    seen += ev.observe(observe("TS-1", T0 + 3 * M, seq=2, mode="off"))
    seen += ev.observe(observe("TS-1", T0 + 4 * M, seq=3, mode="fixed"))
    seen += ev.tick(T0 + 8 * M)
    assert changes(seen) == [ChangeKind.FIRING]
    assert firing(ev) == ["r/TS-1"]
    assert changes(ev.tick(T0 + 9 * M)) == [ChangeKind.RESOLVED]


# --- gates that hold -----------------------------------------------------------------------------

LIGHTS = Registry.from_records(
    [DeviceRecord(id="SL-1", kind=Kind.STREETLIGHT, district="riverside", cabinet="C-01")],
    city=CITY,
)
EVENING = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai, before sunset


def night_and_day(ev: Evaluator, *, repaired_at: datetime | None) -> list[Transition]:
    """A lamp reporting every 5 min from 18:00 to 23:00 the next day; dark throughout, or
    burning at night again once repaired."""
    seen: list[Transition] = []
    at = EVENING
    seq = 0
    while at <= EVENING + timedelta(hours=29):
        lamp_on = repaired_at is not None and at >= repaired_at and at.hour >= 11
        seen += ev.observe(observe_in(LIGHTS, "SL-1", at, seq=seq, lamp_on=lamp_on))
        seen += ev.tick(at)
        if seen and seen[-1].change is ChangeKind.FIRING:
            ack = ev.acknowledge(seen[-1].alert.fingerprint, "ana", at)
            assert ack is not None
            seen.append(ack)
        at += 5 * M
        seq += 1
    return seen


def dark_at_night() -> RuleSet:
    return RuleSet((PACK.by_name("lamp-dark-at-night"),), ())


def test_a_dead_lamp_is_one_alert_across_the_dawn_its_ack_kept():
    ev = Evaluator(dark_at_night(), LIGHTS, max_clock_skew=5 * M, started_at=EVENING)
    seen = night_and_day(ev, repaired_at=None)
    assert changes(seen) == [ChangeKind.FIRING, ChangeKind.ACKNOWLEDGED]
    (alert,) = ev.active()
    assert alert.acknowledged_by == "ana"
    assert alert.held is None  # night again: the fresh dark samples confirmed it
    held = [t.alert.held for t in seen if t.alert.held]
    assert held
    assert held[0].startswith("gate closed at 04:")
    assert held[0].endswith("; held until the gate opens")


def test_a_lamp_repaired_by_day_resolves_at_the_first_sample_after_dusk():
    ev = Evaluator(dark_at_night(), LIGHTS, max_clock_skew=5 * M, started_at=EVENING)
    seen = night_and_day(ev, repaired_at=EVENING + timedelta(hours=18))  # noon
    assert changes(seen) == [ChangeKind.FIRING, ChangeKind.ACKNOWLEDGED, ChangeKind.RESOLVED]
    resolved = next(t for t in seen if t.change is ChangeKind.RESOLVED)
    assert resolved.alert.resolved_at is not None
    assert resolved.alert.resolved_at.hour == 11  # 19:xx local: the first sample after dusk
    assert ev.active() == []


def test_a_pending_alert_resets_when_its_gate_closes():
    ev = Evaluator(dark_at_night(), LIGHTS, max_clock_skew=5 * M, started_at=EVENING)
    before_dawn = datetime(2026, 6, 21, 20, 15, tzinfo=UTC)  # 04:15 local, still dark
    ev.observe(observe_in(LIGHTS, "SL-1", before_dawn, lamp_on=False))
    assert len(ev.active()) == 1
    ev.tick(before_dawn + 30 * M)  # 04:45: the sun is less than 6° down
    assert ev.active() == []


# --- per-device schedules ------------------------------------------------------------------------

SIGNALS = Registry.from_records(
    [
        DeviceRecord(
            id="TS-1",
            kind=Kind.TRAFFIC_SIGNAL,
            district="centre",
            junction="J-1",
            flash_schedule="01:00-05:00",
        ),
        DeviceRecord(id="TS-2", kind=Kind.TRAFFIC_SIGNAL, district="centre", junction="J-2"),
    ],
    city=CITY,
)
FLASH = rule(
    "traffic_signal",
    "{type: state, field: mode, equals: flash}",
    extra="    when: {outside_local_time_from: flash_schedule}",
)


def test_a_signal_flashing_inside_its_own_schedule_is_quiet_outside_it_alerts():
    ev = Evaluator(FLASH, SIGNALS, max_clock_skew=5 * M, started_at=T0)
    two_am = datetime(2026, 6, 21, 18, 0, tzinfo=UTC)  # 02:00 local
    ev.observe(observe_in(SIGNALS, "TS-1", two_am, mode="flash"))
    ev.observe(observe_in(SIGNALS, "TS-2", two_am, mode="flash"))  # no schedule: never
    assert firing(ev) == ["r/TS-2"]
    half_past_eleven = datetime(2026, 6, 21, 15, 30, tzinfo=UTC)
    ev2 = Evaluator(FLASH, SIGNALS, max_clock_skew=5 * M, started_at=T0)
    ev2.observe(observe_in(SIGNALS, "TS-1", half_past_eleven, mode="flash"))
    assert firing(ev2) == ["r/TS-1"]


# --- delta over N samples ------------------------------------------------------------------------


def test_a_delta_over_two_samples_sees_a_rise_between_readings_hours_apart():
    rising = rule(
        "water_quality",
        "{type: threshold, field: ammonia_mg_l, aggregate: delta, samples: 2, window: 5h,"
        " above: 0.5}",
    )
    ev = evaluator(rising)
    ev.observe(observe("WQ-1", T0, ammonia_mg_l=0.3))
    assert ev.active() == []
    ev.observe(observe("WQ-1", T0 + timedelta(hours=2), seq=1, ammonia_mg_l=0.9))
    assert firing(ev) == ["r/WQ-1"]
    (alert,) = ev.active()
    assert abs((alert.value or 0) - 0.6) < 1e-9


def test_a_delta_over_three_samples_spans_the_two_before_the_newest():
    rising = rule(
        "water_quality",
        "{type: threshold, field: ammonia_mg_l, aggregate: delta, samples: 3, window: 10h,"
        " above: 0.5}",
    )
    ev = evaluator(rising)
    for n, level in enumerate([0.2, 0.3, 0.5, 0.9]):
        ev.observe(observe("WQ-1", T0 + n * timedelta(hours=2), seq=n, ammonia_mg_l=level))
        assert firing(ev) == ([] if n < 3 else ["r/WQ-1"])  # 0.9 - 0.3, not 0.9 - 0.5


# --- latched faults ------------------------------------------------------------------------------

LAMP_OUT = rule(
    "traffic_signal",
    "{type: fault, event: traffic_signal_fault, where: {fault: lamp_out}}",
    extra="    for: 1m",
)


def fault(at: datetime, seq: int, approach: str, *, active: bool, ts: datetime | None = None):
    return observe(
        "TS-1", at, channel="event", seq=seq, ts=ts, approach=approach, active=active, detail="red"
    )


def test_a_lamp_out_latches_per_approach_until_cleared():
    ev = evaluator(LAMP_OUT)
    ev.observe(fault(T0, 0, "north", active=True))
    ev.observe(fault(T0, 1, "east", active=True))
    fired = ev.tick(T0 + M)  # a latched state holds as time passes: the clock fires it
    assert changes(fired) == [ChangeKind.FIRING, ChangeKind.FIRING]
    assert sorted(t.alert.labels["approach"] for t in fired) == ["east", "north"]
    assert all(t.alert.labels["device"] == "TS-1" for t in fired)
    cleared = ev.observe(fault(T0 + 5 * M, 2, "north", active=False))
    assert changes(cleared) == [ChangeKind.RESOLVED]
    assert cleared[0].alert.labels["approach"] == "north"
    assert [a.labels["approach"] for a in ev.active()] == ["east"]
    # an older raise uploaded late does not undo the newer clear
    assert ev.observe(fault(T0 + 6 * M, 3, "north", active=True, ts=T0 + 2 * M)) == []
    assert [a.labels["approach"] for a in ev.active()] == ["east"]


# --- late data -----------------------------------------------------------------------------------


def test_an_hour_of_buffered_violations_uploaded_at_once_does_not_trip_the_pack_rule():
    red_light = PACK.by_name("red-light-violations-high")
    condition = red_light.condition
    assert condition.type == "event_rate"
    ev = evaluator(RuleSet((red_light,), ()))
    per_hour = int(condition.above * 0.8)  # a busy junction, under the limit every hour
    spacing = timedelta(hours=1) / per_hour
    seq = 0
    seen: list[Transition] = []

    def violation(at: datetime, ts: datetime) -> None:
        nonlocal seq
        seen.extend(ev.observe(observe("CP-1", at, channel="event", seq=seq, ts=ts)))
        seq += 1

    hour = timedelta(hours=1)
    for n in range(per_hour):  # live for an hour
        violation(T0 + n * spacing, T0 + n * spacing)
    upload = T0 + 2 * hour  # the link was down for the second hour: its violations come now
    for n in range(per_hour):  # a burst, one a second
        violation(upload + n * timedelta(seconds=1), T0 + hour + n * spacing)
    upload += timedelta(minutes=1)
    for n in range(per_hour):  # and live again
        at = upload + n * spacing
        violation(at, at)
        seen.extend(ev.tick(at))
    assert changes(seen) == []
    assert ev.active() == []


def test_a_clock_running_fast_is_still_timed_by_arrival():
    ev = evaluator(hot("    for: 10m"))
    ev.observe(observe("SL-1", T0, ts=T0 + timedelta(hours=1), lamp_temp_c=85))
    (alert,) = ev.active()
    assert alert.active_since == T0


def test_a_late_reading_older_than_the_latest_never_replaces_it():
    ev = evaluator(hot("    for: 0s"))
    ev.observe(observe("SL-1", T0, seq=1, lamp_temp_c=20))
    ev.observe(observe("SL-1", T0 + M, seq=0, ts=T0 - 10 * M, lamp_temp_c=95))
    assert ev.active() == []


# --- the rule-test file format -------------------------------------------------------------------

LATE_TEST = """\
rule_files: [rules.yaml]
registry:
  city: {latitude: 31.23, longitude: 121.47, timezone: Asia/Shanghai}
  devices:
    - {id: CP-1, kind: checkpoint, district: centre}
start: "2026-06-21T08:00:00+08:00"
tests:
  - name: a batch upload of an hour's violations spreads over its hour
    series:
      - {device: CP-1, every: 1m, until: 3h}
      - {device: CP-1, channel: event, every: 3m, from: 1h, until: 2h, arrives_at: 2h}
    expect:
      - {at: 1h59m, firing: [], pending: []}
      - {at: 2h, firing: FIRING}
"""
LATE_RULES = """\
rules:
  - name: many
    kind: checkpoint
    severity: warning
    summary: "{device}"
    runbook: https://runbooks.example/many
    condition: {type: event_rate, event: checkpoint_violation, window: 30m, above: 15}
"""


def test_a_rule_test_can_say_a_series_arrives_late(tmp_path):
    (tmp_path / "rules.yaml").write_text(LATE_RULES)
    test_file = tmp_path / "late.test.yaml"
    # 21 violations, 3 min apart, all arriving at 2h: 10 of them fall within the last 30 min
    test_file.write_text(LATE_TEST.replace("FIRING", "[]"))
    (report,) = run_rule_tests(test_file)
    assert report.failures == []
    test_file.write_text(LATE_TEST.replace("FIRING", "[{rule: many}]"))
    (report,) = run_rule_tests(test_file)
    assert report.failures == ["at 2h: expected firing many{}, not found"]


# --- water class at the analysers' cadence --------------------------------------------------------

BELOW_CLASS = rule("water_quality", "{type: water_class}", extra="    for: 1h\n    for_samples: 2")
ANALYSERS = ("ammonia_mg_l", "permanganate_index_mg_l", "total_phosphorus_mg_l")


def probes_only(at: datetime, seq: int) -> Observation:
    """An hourly sample without the analysers' values (they report every 4 h)."""
    body = observe("WQ-1", at, seq=seq).message.payload.model_dump(
        mode="json", exclude=set(ANALYSERS)
    )
    record = REGISTRY["WQ-1"]
    topic = Topic(record.district, record.kind, record.id, Channel.TELEMETRY)
    return Observation(decode_message(topic, orjson.dumps(body)), record, at)


def test_probe_only_samples_neither_clear_nor_confirm_an_analysers_class_verdict():
    ev = evaluator(BELOW_CLASS)
    hour = timedelta(hours=1)
    ev.observe(observe("WQ-1", T0, ammonia_mg_l=1.2))  # class IV against target III
    for n in range(1, 4):  # hourly probe samples: DO, pH, ... but no NH3-N
        ev.observe(probes_only(T0 + n * hour, n))
        assert pending(ev) == ["r/WQ-1"]
    fired = ev.observe(observe("WQ-1", T0 + 4 * hour, seq=4, ammonia_mg_l=1.2))
    assert changes(fired) == [ChangeKind.FIRING]
    ev.observe(probes_only(T0 + 5 * hour, 5))
    assert firing(ev) == ["r/WQ-1"]
    cleared = ev.observe(observe("WQ-1", T0 + 8 * hour, seq=6, ammonia_mg_l=0.3))
    assert changes(cleared) == [ChangeKind.RESOLVED]


def test_a_group_members_stale_reading_no_longer_counts():
    dark_cabinet = rule(
        "streetlight",
        "{type: group, by: cabinet, at_least_pct: 50,"
        " member: {type: state, field: lamp_on, equals: false}}",
        extra="    stale_after: 30m",
    )
    ev = evaluator(dark_cabinet)
    for n in (1, 2, 3):
        ev.observe(observe(f"SL-{n}", T0, lamp_on=False))
    for n in (4, 5):
        ev.observe(observe(f"SL-{n}", T0, lamp_on=True))
    assert firing(ev) == ["r/C-01"]
    for n in (4, 5):  # two keep reporting; the three dark ones fall silent
        ev.observe(observe(f"SL-{n}", T0 + 20 * M, seq=1, lamp_on=True))
    assert changes(ev.tick(T0 + 30 * M)) == []
    assert changes(ev.tick(T0 + 31 * M)) == [ChangeKind.RESOLVED]
