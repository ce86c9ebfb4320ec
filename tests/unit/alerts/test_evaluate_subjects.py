"""Whom alerts are about when the registry changes under them: restored alerts of devices (or
groups) no longer in the registry resolve, and group rules keep each district's cabinets apart."""

from __future__ import annotations

from datetime import timedelta

from alerts import ChangeKind, Evaluator
from devices import DeviceRecord, Kind, Registry
from tests.unit.alerts.factory import CITY, REGISTRY, T0, evaluator, firing, observe, rule, rules
from tests.unit.alerts.test_evaluate import GROUP, HOT

M = timedelta(minutes=1)


def without(*device_ids: str) -> Registry:
    """The test registry with some devices taken out (decommissioned)."""
    kept = [record for record in REGISTRY.values() if record.id not in device_ids]
    return Registry.from_records(kept, city=CITY)


def restarted(ev: Evaluator, rule_set, registry: Registry, at) -> Evaluator:
    return Evaluator(
        rule_set, registry, max_clock_skew=timedelta(minutes=5), started_at=at, alerts=ev.active()
    )


def test_restored_alerts_of_devices_no_longer_in_the_registry_resolve_on_load():
    ev = evaluator(HOT)
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))
    ev.observe(observe("SL-2", T0, lamp_temp_c=85))
    ev.observe(observe("SL-1", T0 + 10 * M, seq=1, lamp_temp_c=85))
    ev.observe(observe("SL-2", T0 + 10 * M, seq=1, lamp_temp_c=85))
    assert firing(ev) == ["r/SL-1", "r/SL-2"]
    after = restarted(ev, HOT, without("SL-1"), T0 + 11 * M)
    changes = after.tick(T0 + 11 * M)
    assert [(c.change, c.alert.labels["device"]) for c in changes] == [
        (ChangeKind.RESOLVED, "SL-1")
    ]
    assert firing(after) == ["r/SL-2"]


def test_a_restored_pending_alert_of_a_removed_device_is_dropped_not_announced():
    ev = evaluator(HOT)
    ev.observe(observe("SL-1", T0, lamp_temp_c=85))
    after = restarted(ev, HOT, without("SL-1"), T0 + M)
    (change,) = after.tick(T0 + M)
    assert change.dropped
    assert change.change is None
    assert after.active() == []


def test_a_restored_absence_alert_of_a_removed_device_resolves_instead_of_waiting_for_ever():
    silent = rule("checkpoint", "{type: absent, after: 5m}")
    ev = evaluator(silent)
    ev.observe(observe("CP-2", T0 + 4 * M))
    ev.tick(T0 + 6 * M)
    assert firing(ev) == ["r/CP-1"]  # never heard from
    after = restarted(ev, silent, without("CP-1"), T0 + 7 * M)
    changes = after.tick(T0 + 7 * M)
    assert [c.change for c in changes] == [ChangeKind.RESOLVED]
    assert after.active() == []


def test_a_restored_group_alert_of_a_cabinet_no_longer_in_the_registry_resolves():
    ev = evaluator(GROUP)
    for n in range(1, 6):
        ev.observe(observe(f"SL-{n}", T0, voltage_v=0))
    assert "cut/C-01" in firing(ev)
    after = restarted(ev, GROUP, without(*(f"SL-{n}" for n in range(1, 6))), T0 + M)
    changes = after.tick(T0 + M)
    resolved = {(c.alert.rule, c.change) for c in changes if c.change}
    assert ("cut", ChangeKind.RESOLVED) in resolved
    assert after.active() == []


def test_two_districts_with_a_cabinet_of_the_same_id_are_two_groups():
    twin = Registry.from_records(
        [
            *(
                DeviceRecord(id=f"N-{n}", kind=Kind.STREETLIGHT, district="north", cabinet="C-01")
                for n in range(4)
            ),
            *(
                DeviceRecord(id=f"S-{n}", kind=Kind.STREETLIGHT, district="south", cabinet="C-01")
                for n in range(4)
            ),
        ],
        city=CITY,
    )
    cut = rules(
        """
rules:
  - name: cut
    kind: streetlight
    severity: critical
    summary: "{district} {cabinet}: {matching}/{members}"
    runbook: https://runbooks.example/cut
    condition:
      type: group
      by: cabinet
      at_least_pct: 75
      member: {type: threshold, field: voltage_v, below: 100}
"""
    )
    ev = Evaluator(cut, twin, max_clock_skew=timedelta(minutes=5), started_at=T0)
    for n in range(4):
        ev.observe(_light(twin, f"N-{n}", voltage_v=0))
        ev.observe(_light(twin, f"S-{n}", voltage_v=0 if n < 2 else 230))
    # north loses power (4 of 4), south only half (2 of 4): one alert, north's
    (alert,) = ev.active()
    assert (alert.district, alert.labels["cabinet"]) == ("north", "C-01")
    assert alert.summary == "north C-01: 3/4"  # fired at 75 %, of its own 4 lights
    for n in range(2, 4):
        ev.observe(_light(twin, f"S-{n}", seq=1, voltage_v=0))
    assert sorted(a.district for a in ev.active()) == ["north", "south"]
    assert len({a.fingerprint for a in ev.active()}) == 2


def _light(registry: Registry, device: str, *, seq: int = 0, **fields: float):
    """A streetlight reading of a device of ``registry`` (the factory's own is another city)."""
    import orjson

    from alerts import Observation
    from alerts.testing import HEALTHY_FIELDS
    from devices import Channel, Topic, decode_message

    record = registry[device]
    body = dict(HEALTHY_FIELDS[(Kind.STREETLIGHT, "telemetry")])
    body.update(fields, ts=int(T0.timestamp() * 1000), seq=seq)
    topic = Topic(record.district, Kind.STREETLIGHT, record.id, Channel.TELEMETRY)
    return Observation(decode_message(topic, orjson.dumps(body)), record, T0)
