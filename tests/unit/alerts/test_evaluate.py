"""Every condition kind, on a fake clock: hysteresis edges, flapping, out-of-order and
duplicate readings, clock skew, windows, absence, groups, water class, gates, inhibition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts import AlertState, ChangeKind, Evaluator
from devices import DeviceRecord, Kind, Registry, WaterBodyType, WaterClass
from tests.unit.alerts.factory import (
    CITY,
    T0,
    evaluator,
    firing,
    observe,
    observe_in,
    pending,
    rule,
    rules,
)

M = timedelta(minutes=1)

HOT = rule(
    "streetlight",
    "{type: threshold, field: lamp_temp_c, above: 80, clear: 70}",
    extra="    for: 10m",
)


def test_threshold_fires_above_the_limit_only_after_for():
    ev = evaluator(HOT)
    assert ev.observe(observe("SL-1", T0, lamp_temp_c=85))[0].change is None
    assert pending(ev) == ["r/SL-1"]
    ev.observe(observe("SL-1", T0 + 9 * M, seq=1, lamp_temp_c=85))
    assert firing(ev) == []
    changes = ev.observe(observe("SL-1", T0 + 10 * M, seq=2, lamp_temp_c=85))
    assert [c.change for c in changes if c.change] == [ChangeKind.FIRING]
    assert changes[0].alert.value == 85
    assert firing(ev) == ["r/SL-1"]


def test_a_value_exactly_at_the_limit_does_not_fire():
    ev = evaluator(HOT)
    ev.observe(observe("SL-1", T0, lamp_temp_c=80))
    assert ev.active() == []


def test_hysteresis_holds_down_to_the_clear_level_and_lets_go_below_it():
    ev = evaluator(HOT)
    for n, temp in enumerate([85, 85, 85]):
        ev.observe(observe("SL-1", T0 + 5 * n * M, seq=n, lamp_temp_c=temp))
    assert firing(ev) == ["r/SL-1"]
    ev.observe(observe("SL-1", T0 + 15 * M, seq=3, lamp_temp_c=70))  # exactly at clear: holds
    assert firing(ev) == ["r/SL-1"]
    changes = ev.observe(observe("SL-1", T0 + 16 * M, seq=4, lamp_temp_c=69.9))
    assert [c.change for c in changes if c.change] == [ChangeKind.RESOLVED]
    resolved = changes[0].alert
    assert resolved.state is AlertState.RESOLVED
    assert resolved.resolved_at == T0 + 16 * M
    assert resolved.fired_at == T0 + 10 * M
    assert ev.active() == []


def test_below_threshold_with_hysteresis_mirrors_above():
    low = rule("water_quality", "{type: threshold, field: ph, below: 6, clear: 6.2}")
    ev = evaluator(low)
    ev.observe(observe("WQ-1", T0, ph=5.9))
    assert firing(ev) == ["r/WQ-1"]
    ev.observe(observe("WQ-1", T0 + M, seq=1, ph=6.2))
    assert firing(ev) == ["r/WQ-1"]
    ev.observe(observe("WQ-1", T0 + 2 * M, seq=2, ph=6.21))
    assert firing(ev) == []


def test_flapping_input_restarts_for_and_never_fires():
    ev = evaluator(HOT)
    changes = []
    for n in range(40):
        temp = 85 if n % 2 == 0 else 60
        changes += ev.observe(observe("SL-1", T0 + n * M, seq=n, lamp_temp_c=temp))
        changes += ev.tick(T0 + n * M)
    assert [c.change for c in changes if c.change] == []
    assert any(c.dropped for c in changes)


def test_flapping_between_limit_and_clear_keeps_one_alert():
    ev = evaluator(HOT)
    announced = []
    for n in range(60):
        temp = 85 if n % 2 == 0 else 75
        announced += [
            c.change
            for c in ev.observe(observe("SL-1", T0 + n * M, seq=n, lamp_temp_c=temp))
            if c.change
        ]
    assert announced == [ChangeKind.FIRING]


def test_an_out_of_order_reading_does_not_overwrite_the_latest_state():
    ev = evaluator(rule("streetlight", "{type: threshold, field: lamp_temp_c, above: 80}"))
    ev.observe(observe("SL-1", T0 + 2 * M, seq=2, lamp_temp_c=90))
    assert firing(ev) == ["r/SL-1"]
    ev.observe(observe("SL-1", T0 + M, seq=1, ts=T0 + M, lamp_temp_c=20))  # older, late
    assert firing(ev) == ["r/SL-1"]
    ev.observe(observe("SL-1", T0 + 3 * M, seq=3, lamp_temp_c=20))
    assert firing(ev) == []


def test_a_duplicate_reading_counts_once_in_a_window():
    mean = rule(
        "water_quality",
        "{type: threshold, field: ammonia_mg_l, aggregate: mean, window: 30m, above: 1.0}",
    )
    ev = evaluator(mean)
    ev.observe(observe("WQ-1", T0, seq=0, ammonia_mg_l=0.2))
    spike = observe("WQ-1", T0 + M, seq=1, ammonia_mg_l=2.0)
    ev.observe(spike)  # mean 1.1: fires
    assert firing(ev) == ["r/WQ-1"]
    ev.observe(observe("WQ-1", T0 + 2 * M, seq=2, ammonia_mg_l=0.2))  # mean 0.8: clears
    assert firing(ev) == []
    ev.observe(spike)  # redelivered: overwrites its own sample, mean stays 0.8
    assert firing(ev) == []


def test_an_out_of_order_reading_still_enters_its_window():
    peak = rule(
        "water_quality",
        "{type: threshold, field: ammonia_mg_l, aggregate: max, window: 30m, above: 1.0}",
    )
    ev = evaluator(peak)
    ev.observe(observe("WQ-1", T0 + 10 * M, seq=2, ammonia_mg_l=0.2))
    ev.observe(observe("WQ-1", T0 + 5 * M, seq=1, ts=T0 + 5 * M, ammonia_mg_l=1.5))
    assert firing(ev) == ["r/WQ-1"]


def test_a_device_clock_far_ahead_is_timed_by_arrival_so_for_still_waits():
    ev = evaluator(HOT)
    ev.observe(observe("SL-1", T0, seq=0, ts=T0 + timedelta(hours=3), lamp_temp_c=85))
    ev.observe(
        observe("SL-1", T0 + M, seq=1, ts=T0 + timedelta(hours=3, minutes=30), lamp_temp_c=85)
    )
    assert firing(ev) == []
    assert pending(ev) == ["r/SL-1"]
    ev.tick(T0 + 10 * M)
    assert firing(ev) == []  # for: has run out, but only a fresh sample fires
    ev.observe(observe("SL-1", T0 + 10 * M, seq=2, ts=T0 + timedelta(hours=4), lamp_temp_c=85))
    assert firing(ev) == ["r/SL-1"]


def test_a_small_clock_skew_keeps_the_device_time():
    ev = evaluator(HOT)
    ev.observe(observe("SL-1", T0, seq=0, ts=T0 - 2 * M, lamp_temp_c=85))
    alert = ev.active()[0]
    assert alert.active_since == T0 - 2 * M


def test_windowed_aggregates_mean_max_min_delta_and_rate():
    values = [1.0, 2.0, 4.0]
    expected = {"mean": 7 / 3, "max": 4.0, "min": 1.0, "delta": 3.0, "rate_per_min": 3.0 / 20}
    for aggregate, want in expected.items():  # each crosses its limit at the last reading
        ev = evaluator(
            rule(
                "water_quality",
                f"{{type: threshold, field: ammonia_mg_l, aggregate: {aggregate}, "
                f"window: 1h, above: {want - 0.001}}}",
            )
        )
        for n, value in enumerate(values):
            ev.observe(observe("WQ-1", T0 + 10 * n * M, seq=n, ammonia_mg_l=value))
        (alert,) = ev.active()
        assert alert.value is not None
        assert abs(alert.value - want) < 1e-9, aggregate


def test_a_window_forgets_old_samples_when_time_passes_without_readings():
    peak = rule(
        "water_quality",
        "{type: threshold, field: ammonia_mg_l, aggregate: max, window: 30m, above: 1.0}",
    )
    ev = evaluator(peak)
    ev.observe(observe("WQ-1", T0, ammonia_mg_l=1.5))
    assert firing(ev) == ["r/WQ-1"]
    ev.tick(T0 + 29 * M)
    assert firing(ev) == ["r/WQ-1"]
    changes = ev.tick(T0 + 30 * M)
    assert [c.change for c in changes if c.change] == [ChangeKind.RESOLVED]


def test_state_condition_with_a_local_time_gate():
    flash = rule(
        "traffic_signal",
        "{type: state, field: mode, equals: flash}",
        extra='    when: {outside_local_time: "23:00-05:00"}',
    )
    ev = evaluator(flash)
    night = datetime(2026, 6, 21, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai
    ev.observe(observe("TS-1", night, mode="flash"))
    assert ev.active() == []
    morning = datetime(2026, 6, 20, 22, 0, tzinfo=UTC)  # 06:00 in Shanghai
    ev.observe(observe("TS-2", morning, mode="flash"))
    assert firing(ev) == ["r/TS-2"]


def test_a_lamp_on_in_daylight_needs_the_sun_up():
    daylight = rule(
        "streetlight",
        "{type: state, field: lamp_on, equals: true}",
        extra="    when: {sun_above_deg: 6}",
    )
    ev = evaluator(daylight)
    noon = datetime(2026, 6, 21, 4, 0, tzinfo=UTC)
    midnight = datetime(2026, 6, 21, 16, 0, tzinfo=UTC)
    ev.observe(observe("SL-1", midnight, lamp_on=True))
    assert ev.active() == []
    ev.observe(observe("SL-2", noon, lamp_on=True))
    assert firing(ev) == ["r/SL-2"]


def test_a_gate_closing_on_a_live_cause_holds_the_firing_alert_without_announcing():
    daylight = rule(
        "streetlight",
        "{type: state, field: lamp_on, equals: true}",
        extra="    when: {sun_above_deg: 6}",
    )
    ev = evaluator(daylight)
    afternoon = datetime(2026, 6, 21, 9, 0, tzinfo=UTC)  # 17:00 local, sun ~23°
    ev.observe(observe("SL-1", afternoon, lamp_on=True))
    assert firing(ev) == ["r/SL-1"]
    changes = ev.tick(datetime(2026, 6, 21, 12, 0, tzinfo=UTC))  # 20:00 local: dark
    assert [c.change for c in changes if c.change] == []
    assert firing(ev) == ["r/SL-1"]
    assert ev.active()[0].held == "gate closed at 20:00; held until the gate opens"


def test_contains_matches_a_fault_flag():
    ev = evaluator(rule("streetlight", "{type: state, field: faults, contains: lamp_failure}"))
    ev.observe(observe("SL-1", T0, faults=["over_temperature"]))
    assert ev.active() == []
    ev.observe(observe("SL-1", T0 + M, seq=1, faults=["lamp_failure"]))
    assert firing(ev) == ["r/SL-1"]


def test_absence_fires_for_a_silent_device_and_resolves_when_it_speaks():
    ev = evaluator(rule("checkpoint", "{type: absent, after: 5m}"))
    ev.observe(observe("CP-1", T0))
    ev.observe(observe("CP-2", T0 + 4 * M))
    assert ev.tick(T0 + 5 * M) == []
    changes = ev.tick(T0 + 5 * M + timedelta(seconds=1))
    announced = [(c.change, c.alert.labels["device"]) for c in changes if c.change]
    assert announced == [(ChangeKind.FIRING, "CP-1")]
    assert changes[-1].alert.fired_at == T0 + 5 * M  # when it went silent, not the tick
    changes = ev.observe(observe("CP-1", T0 + 7 * M, seq=1))
    assert [c.change for c in changes if c.change] == [ChangeKind.RESOLVED]


def test_a_device_never_heard_is_absent_counted_from_the_engine_start():
    ev = evaluator(rule("checkpoint", "{type: absent, after: 5m}"))
    changes = ev.tick(T0 + 6 * M)
    assert sorted(c.alert.labels["device"] for c in changes if c.change) == ["CP-1", "CP-2"]


def test_offline_status_fires_and_online_resolves():
    ev = evaluator(rule("checkpoint", "{type: offline}", extra="    for: 2m"))
    ev.observe(observe("CP-1", T0, channel="status", online=False))
    assert pending(ev) == ["r/CP-1"]
    ev.tick(T0 + 2 * M)
    assert firing(ev) == ["r/CP-1"]
    changes = ev.observe(observe("CP-1", T0 + 3 * M, channel="status", online=True))
    assert [c.change for c in changes if c.change] == [ChangeKind.RESOLVED]


def test_event_rate_counts_matching_events_in_the_window():
    rate = rule(
        "checkpoint",
        "{type: event_rate, event: checkpoint_violation, where: {violation: red_light},"
        " window: 1h, above: 3, clear: 1}",
    )
    ev = evaluator(rate)
    for n in range(4):
        ev.observe(observe("CP-1", T0 + n * M, channel="event", seq=n))
        ev.observe(observe("CP-1", T0 + n * M, channel="event", seq=100 + n, violation="speeding"))
    assert firing(ev) == ["r/CP-1"]
    assert ev.active()[0].value == 4
    ev.tick(T0 + 61 * M)  # the window is (1m, 61m]: two left, above clear, holds
    assert firing(ev) == ["r/CP-1"]
    ev.tick(T0 + 62 * M)  # one left: at clear, holds
    assert firing(ev) == ["r/CP-1"]
    ev.tick(T0 + 63 * M)
    assert firing(ev) == []


GROUP = rules(
    """
rules:
  - name: cut
    kind: streetlight
    severity: critical
    summary: "{cabinet}: {matching}/{members}"
    runbook: https://runbooks.example/cut
    condition:
      type: group
      by: cabinet
      at_least_pct: 80
      member: {type: threshold, field: voltage_v, below: 100}
      silent_after: 10m
    inhibits: {rules: [dark], equal: [cabinet]}
  - name: dark
    kind: streetlight
    severity: warning
    summary: "{device} dark"
    runbook: https://runbooks.example/dark
    condition: {type: threshold, field: voltage_v, below: 100}
"""
)


def test_a_group_fires_once_when_enough_members_match():
    ev = evaluator(GROUP)
    for n in range(1, 7):
        ev.observe(observe(f"SL-{n}", T0))
    for n in range(1, 4):
        ev.observe(observe(f"SL-{n}", T0 + M, seq=1, voltage_v=0))
    assert firing(ev) == ["dark/SL-1", "dark/SL-2", "dark/SL-3"]  # 60 %: no group alert
    ev.observe(observe("SL-4", T0 + 2 * M, seq=1, voltage_v=0))
    assert "cut/C-01" in firing(ev)
    (cut,) = [a for a in ev.active() if a.rule == "cut"]
    assert cut.summary == "C-01: 4/5"
    assert cut.labels["cabinet"] == "C-01"
    assert "device" not in cut.labels


def test_a_firing_group_alert_keeps_the_inhibited_rules_pending():
    ev = evaluator(GROUP)
    for n in range(1, 5):
        ev.observe(observe(f"SL-{n}", T0, voltage_v=0))
    assert firing(ev) == ["cut/C-01", "dark/SL-1", "dark/SL-2", "dark/SL-3"]
    ev.observe(observe("SL-5", T0 + M, seq=1, voltage_v=0))
    assert "dark/SL-5" in pending(ev)  # the cabinet alert covers it


def test_silent_and_offline_members_count_toward_the_group():
    ev = evaluator(GROUP)
    for n in range(1, 7):
        ev.observe(observe(f"SL-{n}", T0))
    ev.observe(observe("SL-1", T0 + M, channel="status", online=False))
    ev.observe(observe("SL-2", T0 + M, channel="status", online=False))
    for n in (3, 4, 5):
        ev.observe(observe("SL-6", T0 + n * M, seq=n))  # C-02 keeps talking
    ev.tick(T0 + 9 * M)
    assert firing(ev) == []
    ev.tick(T0 + 10 * M + timedelta(seconds=1))
    assert firing(ev) == ["cut/C-01"]
    for n in range(1, 6):
        ev.observe(observe(f"SL-{n}", T0 + 11 * M, seq=5))
    assert firing(ev) == []


def test_water_class_below_target_names_the_deciding_parameter():
    below = rules(
        """
rules:
  - name: r
    kind: water_quality
    severity: warning
    summary: "{water_class} vs {target_class} by {parameter}={value}"
    runbook: https://runbooks.example/r
    condition: {type: water_class}
"""
    )
    ev = evaluator(below)
    ev.observe(observe("WQ-1", T0, ammonia_mg_l=1.0))  # class III: meets the target
    assert ev.active() == []
    ev.observe(observe("WQ-1", T0 + M, seq=1, ammonia_mg_l=1.2, dissolved_oxygen_mg_l=5.5))
    (alert,) = ev.active()
    assert alert.summary == "IV vs III by ammonia_mg_l=1.2"
    assert alert.labels["river"] == "jade"


def test_acknowledging_a_firing_alert_is_a_change_once():
    ev = evaluator(rule("streetlight", "{type: threshold, field: lamp_temp_c, above: 80}"))
    ev.observe(observe("SL-1", T0, lamp_temp_c=90))
    (alert,) = ev.active()
    found = ev.acknowledge(alert.fingerprint, "ana", T0 + M)
    assert found is not None
    assert found.change is ChangeKind.ACKNOWLEDGED
    assert found.alert.acknowledged_by == "ana"
    assert ev.acknowledge(alert.fingerprint, "bo", T0 + 2 * M) is None


def test_fingerprints_are_stable_across_evaluators():
    one = evaluator(HOT)
    two = evaluator(HOT)
    one.observe(observe("SL-1", T0, lamp_temp_c=90))
    two.observe(observe("SL-1", T0 + timedelta(days=1), lamp_temp_c=99))
    assert one.active()[0].fingerprint == two.active()[0].fingerprint


def test_restored_pending_alert_fires_when_its_for_runs_out():
    ev = evaluator(HOT)
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))
    restored = evaluator(HOT)
    fresh = type(restored)(
        HOT,
        restored._registry,
        max_clock_skew=timedelta(minutes=5),
        started_at=T0,
        alerts=ev.active(),
    )
    assert fresh.tick(T0 + 9 * M) == []
    assert fresh.tick(T0 + 10 * M) == []  # a threshold fires on a fresh sample, not a tick
    changes = fresh.observe(observe("SL-1", T0 + 10 * M, seq=1, lamp_temp_c=85))
    assert [c.change for c in changes if c.change] == [ChangeKind.FIRING]
    assert changes[0].alert.active_since == T0


def test_rules_removed_by_a_reload_resolve_their_alerts():
    ev = evaluator(HOT)
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))
    ev.observe(observe("SL-1", T0 + 10 * M, seq=1, lamp_temp_c=85))
    assert firing(ev) == ["r/SL-1"]
    ev.set_rules(rule("streetlight", "{type: offline}", name="other"))
    changes = ev.tick(T0 + 11 * M)
    assert [c.change for c in changes if c.change] == [ChangeKind.RESOLVED]
    assert ev.active() == []


def test_times_are_aware_utc():
    ev = evaluator(HOT)
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))
    assert ev.active()[0].active_since.tzinfo is not None
    assert ev.active()[0].active_since.utcoffset() == UTC.utcoffset(None)


def test_a_member_back_online_no_longer_counts_toward_its_group():
    ev = evaluator(GROUP)
    for n in range(1, 5):
        ev.observe(observe(f"SL-{n}", T0, channel="status", online=False))
    assert "cut/C-01" in firing(ev)
    ev.observe(observe("SL-1", T0 + M, channel="status", online=True))
    ev.observe(observe("SL-2", T0 + M, channel="status", online=True))
    assert "cut/C-01" not in firing(ev)


def test_in_event_time_the_device_clock_is_trusted_and_drives_the_timers():
    from alerts import Evaluator
    from tests.unit.alerts.factory import REGISTRY

    ev = Evaluator(HOT, REGISTRY, max_clock_skew=None, started_at=T0)
    replayed = T0 - timedelta(days=3)  # a replay: arrival time means nothing
    ev.observe(observe("SL-1", T0, ts=replayed, lamp_temp_c=85))
    assert ev.active()[0].active_since == replayed
    ev.observe(observe("SL-2", T0, ts=replayed + 10 * M, lamp_temp_c=20))
    assert ev.watermark == replayed + 10 * M
    assert [c.change for c in ev.tick(ev.watermark) if c.change] == []
    changes = ev.observe(observe("SL-1", T0, seq=1, ts=replayed + 10 * M, lamp_temp_c=85))
    assert [c.change for c in changes if c.change] == [ChangeKind.FIRING]
    assert changes[0].alert.fired_at == replayed + 10 * M


def restarted(ev, rule_set, at):
    """A new evaluator over the same alerts, as after a restart at ``at``."""
    from alerts import Evaluator
    from tests.unit.alerts.factory import REGISTRY

    return Evaluator(
        rule_set, REGISTRY, max_clock_skew=timedelta(minutes=5), started_at=at, alerts=ev.active()
    )


def test_a_restored_window_alert_waits_for_its_window_to_fill_before_it_clears():
    peak = rule(
        "water_quality",
        "{type: threshold, field: ammonia_mg_l, aggregate: max, window: 30m, above: 1.0}",
    )
    ev = evaluator(peak)
    ev.observe(observe("WQ-1", T0, ammonia_mg_l=1.5))
    assert firing(ev) == ["r/WQ-1"]
    after = restarted(ev, peak, T0 + 5 * M)
    assert after.tick(T0 + 6 * M) == []
    after.observe(observe("WQ-1", T0 + 10 * M, seq=1, ammonia_mg_l=0.2))
    assert firing(after) == ["r/WQ-1"]  # one low sample in a half-empty window proves nothing
    after.observe(observe("WQ-1", T0 + 40 * M, seq=2, ammonia_mg_l=0.2))
    assert firing(after) == []


def test_a_restored_group_alert_does_not_clear_on_its_first_member_reading():
    ev = evaluator(GROUP)
    for n in range(1, 6):
        ev.observe(observe(f"SL-{n}", T0, voltage_v=0))
    assert "cut/C-01" in firing(ev)
    after = restarted(ev, GROUP, T0 + 5 * M)
    after.observe(observe("SL-1", T0 + 6 * M, seq=1, voltage_v=0))
    assert "cut/C-01" in firing(after)
    for n in range(2, 6):
        after.observe(observe(f"SL-{n}", T0 + 7 * M, seq=1))  # power back
    assert "cut/C-01" not in firing(after)


def test_a_lake_station_is_graded_by_the_lake_phosphorus_limits_and_says_what_was_graded():
    """GB 3838-2002 grades total phosphorus in lakes and reservoirs four to five times more
    strictly than in rivers: 0.08 mg/L is class II in a river, class IV in a lake."""
    stations = [
        DeviceRecord(
            id=f"WQ-{body.value}",
            kind=Kind.WATER_QUALITY,
            district="songshan-lake",
            river="songshan-lake",
            section="S1",
            section_order=1,
            target_class=WaterClass.III,
            water_body=body,
        )
        for body in (WaterBodyType.RIVER, WaterBodyType.LAKE)
    ]
    registry = Registry.from_records(stations, city=CITY)
    below = rules(
        """
rules:
  - name: r
    kind: water_quality
    severity: warning
    summary: "{water_class} by {parameter} ({graded})"
    runbook: https://runbooks.example/r
    condition: {type: water_class}
"""
    )
    ev = Evaluator(below, registry, max_clock_skew=timedelta(minutes=5), started_at=T0)
    for station in stations:
        ev.observe(observe_in(registry, station.id, T0, total_phosphorus_mg_l=0.08))
    (alert,) = ev.active()
    assert alert.labels["device"] == "WQ-lake"
    assert alert.summary.startswith("IV by total_phosphorus_mg_l (graded on pH, DO, ")
    assert "COD, BOD5" in alert.summary
    assert "not measured" in alert.summary
