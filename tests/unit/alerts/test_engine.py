"""The engine as a service: persisted state across restarts, reloads that keep the last good
rules, operators' acknowledgements, listeners that fail (a real MQTT publisher
whose broker is gone). Fake clock throughout."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from alerts import (
    AlertChange,
    AlertEngine,
    AlertsConfig,
    AlertState,
    AlertStore,
    ChangeKind,
    EngineClosed,
    MqttAlertPublisher,
    load_rules,
)
from devices import parse_broker_url
from tests.unit.alerts.factory import REGISTRY, FakeClock, observe

HOT = """\
rules:
  - name: hot
    kind: streetlight
    severity: warning
    summary: "{device} at {value}"
    runbook: https://runbooks.example/hot
    for: 10m
    condition: {type: threshold, field: lamp_temp_c, above: 80, clear: 70}
"""


class Recorder:
    """A listener that keeps what it is told."""

    def __init__(self) -> None:
        self.changes: list[AlertChange] = []
        self.told = asyncio.Event()

    async def notify(self, change: AlertChange) -> None:
        self.changes.append(change)
        self.told.set()

    def seen(self) -> list[tuple[str, str]]:
        return [(c.change.value, c.alert.labels["device"]) for c in self.changes]


def config(rules_path: Path | None = None) -> AlertsConfig:
    return AlertsConfig(
        queue_max=10,
        tick_interval_s=1.0,
        max_clock_skew_s=300,
        notify_timeout_s=1.0,
        shutdown_timeout_s=5.0,
        reannounce_interval_s=0,
        listener_queue_max=100,
        retry_min_s=0.05,
        retry_max_s=0.2,
        rules_path=rules_path,
        watch_rules=rules_path is not None,
        event_time=False,
    )


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules" / "hot.yaml"
    path.parent.mkdir()
    path.write_text(HOT)
    return path


async def tick(running: AlertEngine) -> None:
    """One timer pass, and its changes handed to every listener."""
    await running.tick()
    await running.flush()


def publisher(port: int) -> MqttAlertPublisher:
    return MqttAlertPublisher(
        parse_broker_url(f"mqtt://127.0.0.1:{port}"),
        identifier="engine-alerts",
        qos=1,
        timeout_s=1.0,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )


def engine(rules_file: Path, state: Path, clock: FakeClock, *listeners) -> AlertEngine:
    return AlertEngine(
        config(rules_file.parent),
        load_rules(rules_file.parent),
        REGISTRY,
        state,
        listeners=listeners,
        clock=clock,
        run_ticker=False,
    )


async def test_a_firing_alert_is_announced_once_to_every_listener(
    rules_file, tmp_path, make_mosquitto, caplog
):
    clock = FakeClock()
    one, two = Recorder(), Recorder()
    # a real MQTT publisher between the two, whose broker goes away: its channel is down
    broker = make_mosquitto()
    async with publisher(broker.port) as broken:
        broker.stop()
        async with engine(rules_file, tmp_path / "s.sqlite", clock, one, broken, two) as running:
            await running.submit([observe("SL-1", clock.now, lamp_temp_c=85)])
            clock.advance(minutes=10)
            await running.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=86)])
            await running.flush()
            assert [a.state for a in running.active_alerts()] == [AlertState.FIRING]
    assert one.seen() == two.seen() == [("firing", "SL-1")]
    failed = [r for r in caplog.records if r.getMessage() == "alert_listener_failed"]
    assert failed
    assert {getattr(r, "listener", None) for r in failed} == {"MqttAlertPublisher"}


async def test_a_restart_neither_forgets_nor_reannounces_a_firing_alert(rules_file, tmp_path):
    clock = FakeClock()
    state = tmp_path / "s.sqlite"
    first = Recorder()
    async with engine(rules_file, state, clock, first) as running:
        await running.submit([observe("SL-1", clock.now, lamp_temp_c=85)])
        await running.flush()
        clock.advance(minutes=10)
        await running.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=85)])
        await tick(running)
    assert first.seen() == [("firing", "SL-1")]
    second = Recorder()
    async with engine(rules_file, state, clock, second) as running:
        (alert,) = running.active_alerts()
        assert alert.state is AlertState.FIRING
        clock.advance(minutes=1)
        await running.submit([observe("SL-1", clock.now, seq=2, lamp_temp_c=85)])
        await tick(running)
        await running.flush()
        assert second.seen() == []
        clock.advance(minutes=1)
        await running.submit([observe("SL-1", clock.now, seq=3, lamp_temp_c=20)])
        await running.flush()
    assert second.seen() == [("resolved", "SL-1")]


async def test_a_restart_in_the_middle_of_for_resumes_the_timer(rules_file, tmp_path):
    clock = FakeClock()
    state = tmp_path / "s.sqlite"
    async with engine(rules_file, state, clock) as running:
        await running.submit([observe("SL-1", clock.now, lamp_temp_c=85)])
        await running.flush()
        clock.advance(minutes=6)
        await tick(running)
        assert [a.state for a in running.active_alerts()] == [AlertState.PENDING]
    recorder = Recorder()
    async with engine(rules_file, state, clock, recorder) as running:
        clock.advance(minutes=3)  # 9 minutes since the condition began
        await running.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=85)])
        await tick(running)
        assert recorder.seen() == []
        clock.advance(minutes=1)
        await tick(running)
        assert recorder.seen() == []  # for: has run out: the next fresh sample fires it
        await running.submit([observe("SL-1", clock.now, seq=2, lamp_temp_c=85)])
        await tick(running)
        assert recorder.seen() == [("firing", "SL-1")]
        (alert,) = running.active_alerts()
        assert (alert.fired_at - alert.active_since).total_seconds() == 600


async def test_a_bad_rule_file_keeps_the_running_rules_and_says_why(rules_file, tmp_path):
    clock = FakeClock()
    recorder = Recorder()
    async with engine(rules_file, tmp_path / "s.sqlite", clock, recorder) as running:
        rules_file.write_text(HOT.replace("above: 80", "abov: 80"))
        await tick(running)
        assert running.last_reload_error is not None
        assert "hot.yaml:8: rule 'hot'" in str(running.last_reload_error)
        await running.submit([observe("SL-1", clock.now, lamp_temp_c=85)])
        clock.advance(minutes=10)
        await running.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=85)])
        await tick(running)
        assert recorder.seen() == [("firing", "SL-1")]


async def test_an_edited_rule_file_is_reloaded_without_a_restart(rules_file, tmp_path):
    clock = FakeClock()
    recorder = Recorder()
    async with engine(rules_file, tmp_path / "s.sqlite", clock, recorder) as running:
        rules_file.write_text(HOT.replace("for: 10m", "for: 0s"))
        os.utime(rules_file, (1, 1))  # a new stamp even within the file system's resolution
        await tick(running)
        assert running.last_reload_error is None
        assert running.rules.by_name("hot").for_.total_seconds() == 0
        await running.submit([observe("SL-1", clock.now, lamp_temp_c=85)])
        await running.flush()
        assert recorder.seen() == [("firing", "SL-1")]


async def test_an_operators_ack_is_picked_up_and_announced(rules_file, tmp_path):
    clock = FakeClock()
    state = tmp_path / "s.sqlite"
    recorder = Recorder()
    async with engine(rules_file, state, clock, recorder) as running:
        await running.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        clock.advance(minutes=10)
        await running.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=95)])
        await tick(running)
        (alert,) = running.active_alerts()
        with AlertStore(state) as operators:  # what `smartcity alerts ack` does
            operators.add_ack(alert.fingerprint, "ana", "crew sent", clock.now)
        await tick(running)
        assert recorder.seen() == [("firing", "SL-1"), ("acknowledged", "SL-1")]
        assert running.active_alerts()[0].acknowledged_by == "ana"
        await tick(running)
        assert len(recorder.changes) == 2


async def test_history_keeps_every_announced_change(rules_file, tmp_path):
    clock = FakeClock()
    state = tmp_path / "s.sqlite"
    async with engine(rules_file, state, clock) as running:
        await running.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        clock.advance(minutes=10)
        await running.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=95)])
        await tick(running)
        await running.submit([observe("SL-1", clock.now, seq=2, lamp_temp_c=20)])
    with AlertStore(state) as store:
        assert [change for _, _, change, _ in store.history()] == ["firing", "resolved"]
        (alert,) = store.alerts(include_resolved=True)
        assert alert.state is AlertState.RESOLVED
        assert store.alerts() == []


async def test_submit_outside_the_context_is_refused(rules_file, tmp_path):
    running = engine(rules_file, tmp_path / "s.sqlite", FakeClock())
    with pytest.raises(EngineClosed):
        await running.submit([observe("SL-1", FakeClock().now)])


async def test_the_ticker_runs_timers_on_its_own(tmp_path):
    # a time-held condition (a device offline): the clock alone fires it once for: runs out
    offline_file = tmp_path / "offline.yaml"
    offline_file.write_text(
        HOT.replace(
            "{type: threshold, field: lamp_temp_c, above: 80, clear: 70}", "{type: offline}"
        )
    )
    clock = FakeClock()
    recorder = Recorder()
    fast = AlertsConfig(
        queue_max=10,
        tick_interval_s=0.01,
        max_clock_skew_s=300,
        notify_timeout_s=1.0,
        shutdown_timeout_s=5.0,
        reannounce_interval_s=0,
        listener_queue_max=100,
        retry_min_s=0.05,
        retry_max_s=0.2,
        rules_path=None,
        watch_rules=False,
        event_time=False,
    )
    async with AlertEngine(
        fast,
        load_rules(offline_file),
        REGISTRY,
        tmp_path / "s.sqlite",
        listeners=[recorder],
        clock=clock,
    ) as running:
        await running.submit([observe("SL-1", clock.now, channel="status", online=False)])
        await running.flush()
        clock.advance(minutes=10)
        async with asyncio.timeout(10):
            await recorder.told.wait()
    assert recorder.seen() == [("firing", "SL-1")]
    assert recorder.changes[0].change is ChangeKind.FIRING


SILENT = """\
rules:
  - name: silent
    kind: checkpoint
    severity: warning
    summary: "{device} silent"
    runbook: https://runbooks.example/silent
    condition: {type: absent, after: 5m}
"""


async def test_a_restart_gives_every_device_its_grace_period_again(tmp_path):
    rules_file = tmp_path / "silent.yaml"
    rules_file.write_text(SILENT)
    clock = FakeClock()
    state = tmp_path / "s.sqlite"
    async with engine(rules_file, state, clock) as running:
        await running.submit([observe("CP-1", clock.now), observe("CP-2", clock.now)])
        await running.flush()
    clock.advance(days=2)  # the engine was down for two days
    recorder = Recorder()
    async with engine(rules_file, state, clock, recorder) as running:
        await tick(running)
        assert recorder.seen() == []
        clock.advance(minutes=4)
        await running.submit([observe("CP-1", clock.now, seq=1)])
        clock.advance(minutes=2)
        await tick(running)
    assert recorder.seen() == [("firing", "CP-2")]


async def test_a_firing_absence_alert_survives_a_restart_until_the_device_speaks(tmp_path):
    rules_file = tmp_path / "silent.yaml"
    rules_file.write_text(SILENT)
    clock = FakeClock()
    state = tmp_path / "s.sqlite"
    first = Recorder()
    async with engine(rules_file, state, clock, first) as running:
        await running.submit([observe("CP-1", clock.now)])
        await running.flush()
        clock.advance(minutes=6)
        await tick(running)
    assert sorted(first.seen()) == [("firing", "CP-1"), ("firing", "CP-2")]
    second = Recorder()
    async with engine(rules_file, state, clock, second) as running:
        clock.advance(minutes=1)
        await tick(running)
        assert second.seen() == []
        assert len(running.active_alerts()) == 2
        await running.submit([observe("CP-1", clock.now, seq=1)])
        await running.flush()
    assert second.seen() == [("resolved", "CP-1")]


async def test_a_held_alert_is_not_news_but_its_reannouncement_says_it_is_held(tmp_path):
    gated = tmp_path / "rules" / "gated.yaml"
    gated.parent.mkdir()
    gated.write_text(
        HOT.replace("for: 10m", 'for: 0s\n    when: {local_time: "10:00-11:00"}')
    )  # T0 is 10:00 local
    clock = FakeClock()
    recorder = Recorder()
    async with engine(gated, tmp_path / "s.sqlite", clock, recorder) as running:
        await running.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        await running.flush()
        clock.advance(minutes=65)  # 11:05: the gate is closed, the lamp still hot
        await tick(running)
        assert recorder.seen() == [("firing", "SL-1")]
        (alert,) = running.active_alerts()
        assert alert.held == "gate closed at 11:05; held until the gate opens"
        await running.reannounce()
        await running.flush()
        last = recorder.changes[-1]
        assert last.reannounced
        assert last.change is ChangeKind.FIRING
        assert last.alert.held == alert.held
