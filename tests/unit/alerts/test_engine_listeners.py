"""Listeners that are slow, fail or fall behind: the engine goes on evaluating, and every
listener ends up knowing the current state of every alert. Re-announcement on a timer and on
demand. Fake clock; listeners are plain objects that fail or block when told to."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from alerts import AlertChange, AlertEngine, ChangeKind, load_rules
from tests.support import until
from tests.unit.alerts.factory import REGISTRY, FakeClock, observe
from tests.unit.alerts.test_engine import HOT, Recorder, config

NOW = HOT.replace("for: 10m", "for: 0s")


class Flaky(Recorder):
    """A listener that raises while ``down`` is set, like a server that went away."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.attempts = 0

    async def notify(self, change: AlertChange) -> None:
        self.attempts += 1
        if self.down:
            raise ConnectionError("receiver unreachable")
        await super().notify(change)


class Stuck(Recorder):
    """A listener that hangs until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def notify(self, change: AlertChange) -> None:
        self.entered.set()
        await self.release.wait()
        await super().notify(change)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "hot.yaml").write_text(NOW)
    return folder


def engine(rules_dir: Path, state: Path, clock: FakeClock, *listeners, **overrides) -> AlertEngine:
    return AlertEngine(
        replace(config(None), **overrides),
        load_rules(rules_dir),
        REGISTRY,
        state,
        listeners=listeners,
        clock=clock,
        run_ticker=False,
    )


def states(recorder: Recorder) -> dict[str, str]:
    """What a listener believes now: the last change it got of each device's alert."""
    return {c.alert.labels["device"]: c.change.value for c in recorder.changes}


async def test_a_hung_listener_does_not_stall_evaluation_or_the_others(rules_dir, tmp_path):
    clock = FakeClock()
    stuck, other = Stuck(), Recorder()
    overrides = {"notify_timeout_s": 30.0}
    async with engine(rules_dir, tmp_path / "s.sqlite", clock, stuck, other, **overrides) as run:
        await run.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        await asyncio.wait_for(stuck.entered.wait(), 5)
        # the first listener hangs inside notify(); readings are still evaluated and announced
        await run.submit([observe("SL-2", clock.now, lamp_temp_c=95)])
        await run.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=20)])
        assert await until(lambda: len(other.changes) == 3, timeout_s=5)
        assert {a.labels["device"] for a in run.active_alerts()} == {"SL-2"}
        assert stuck.changes == []
        stuck.release.set()
        await run.flush()
    assert (
        stuck.seen()
        == other.seen()
        == [
            ("firing", "SL-1"),
            ("firing", "SL-2"),
            ("resolved", "SL-1"),
        ]
    )


async def test_a_listener_that_failed_gets_what_it_missed_once_it_is_back(rules_dir, tmp_path):
    clock = FakeClock()
    flaky = Flaky()
    async with engine(rules_dir, tmp_path / "s.sqlite", clock, flaky) as run:
        await run.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        await run.submit([observe("SL-2", clock.now, lamp_temp_c=95)])
        await run.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=20)])
        await run.flush()
        assert flaky.changes == []
        assert run.listener_stats()[0].owed == 2  # SL-1 resolved, SL-2 firing
        flaky.down = False
        assert await until(lambda: run.listener_stats()[0].owed == 0, timeout_s=5)
        (stats,) = run.listener_stats()
    # the current state of each alert, oldest first: SL-1 ended, SL-2 fires
    assert states(flaky) == {"SL-1": "resolved", "SL-2": "firing"}
    assert stats.failed >= 3
    assert stats.delivered == 2


async def test_a_full_queue_drops_counted_and_the_listener_still_learns_the_state(
    rules_dir, tmp_path
):
    clock = FakeClock()
    stuck = Stuck()
    async with engine(
        rules_dir,
        tmp_path / "s.sqlite",
        clock,
        stuck,
        listener_queue_max=1,
        notify_timeout_s=30.0,
    ) as run:
        await run.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        await asyncio.wait_for(stuck.entered.wait(), 5)
        for n in range(2, 6):  # one waits in the queue, the rest find it full
            await run.submit([observe(f"SL-{n}", clock.now, lamp_temp_c=95)])
        await run.submit([observe("SL-1", clock.now, seq=1, lamp_temp_c=20)])
        assert await until(lambda: run.listener_stats()[0].dropped == 4, timeout_s=5)
        stuck.release.set()
        assert await until(lambda: run.listener_stats()[0].owed == 0, timeout_s=5)
    expected = {"SL-1": "resolved", **{f"SL-{n}": "firing" for n in range(2, 6)}}
    assert states(stuck) == expected


async def test_firing_alerts_are_reannounced_on_the_timer_with_their_own_time(rules_dir, tmp_path):
    clock = FakeClock()
    recorder = Recorder()
    async with engine(
        rules_dir, tmp_path / "s.sqlite", clock, recorder, reannounce_interval_s=60
    ) as run:
        await run.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        await run.flush()
        clock.advance(seconds=59)
        await run.tick()
        await run.flush()
        assert len(recorder.changes) == 1
        clock.advance(seconds=1)
        await run.tick()
        await run.flush()
    first, again = recorder.changes
    assert (first.change, first.reannounced) == (ChangeKind.FIRING, False)
    assert (again.change, again.reannounced) == (ChangeKind.FIRING, True)
    assert again.at == first.at
    assert again.alert == first.alert


async def test_a_restarted_engine_reannounces_restored_alerts_on_demand(rules_dir, tmp_path):
    clock = FakeClock()
    state = tmp_path / "s.sqlite"
    async with engine(rules_dir, state, clock) as run:
        await run.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        await run.submit([observe("SL-2", clock.now, lamp_temp_c=95)])
        await run.submit([observe("SL-2", clock.now, seq=1, lamp_temp_c=20)])
        await run.flush()
    recorder = Recorder()
    async with engine(rules_dir, state, clock, recorder) as run:
        await run.reannounce()
        await run.flush()
    assert recorder.seen() == [("firing", "SL-1")]
    assert recorder.changes[0].reannounced


class Patient(Recorder):
    """A listener that takes longer than the engine's notify timeout, and says so."""

    notify_timeout_s = 5.0

    async def notify(self, change: AlertChange) -> None:
        await asyncio.sleep(0.3)
        await super().notify(change)


async def test_a_listener_may_ask_for_a_longer_notify_timeout(rules_dir, tmp_path):
    clock = FakeClock()
    patient, hasty = Patient(), Patient()
    hasty.notify_timeout_s = 0  # falls back to the engine's 0.1 s
    async with engine(
        rules_dir, tmp_path / "s.sqlite", clock, patient, hasty, notify_timeout_s=0.1
    ) as run:
        await run.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
        await run.flush()
        patient_stats, hasty_stats = run.listener_stats()
    assert patient.seen() == [("firing", "SL-1")]
    assert (patient_stats.delivered, patient_stats.failed) == (1, 0)
    assert hasty_stats.failed >= 1


class Converting(Recorder):
    """A listener whose client library turns a cancellation into an error of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()

    async def notify(self, change: AlertChange) -> None:
        self.entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as exc:
            raise RuntimeError("connection closed") from exc


async def test_a_stopping_engine_ends_even_a_listener_that_turns_cancellation_into_an_error(
    rules_dir, tmp_path
):
    clock = FakeClock()
    listener = Converting()
    overrides = {"notify_timeout_s": 3600.0}

    async def run_until_stopped() -> None:
        async with engine(rules_dir, tmp_path / "s.sqlite", clock, listener, **overrides) as run:
            await run.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
            await asyncio.sleep(3600)

    platform = asyncio.create_task(run_until_stopped())
    await asyncio.wait_for(listener.entered.wait(), 10)
    platform.cancel()  # Ctrl-C
    done, _ = await asyncio.wait({platform}, timeout=10)
    assert platform in done  # before, the listener's task lived on and the stop hung


class Swallowing(Converting):
    """A listener that returns normally when cancelled, as Python 3.11's ``asyncio.wait_for``
    does when its future completes at the moment the task is cancelled."""

    async def notify(self, change: AlertChange) -> None:
        self.entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return


async def test_a_stopping_engine_ends_a_listener_whose_cancellation_was_lost(rules_dir, tmp_path):
    clock = FakeClock()
    listener = Swallowing()
    overrides = {"notify_timeout_s": 3600.0}

    async def run_until_stopped() -> None:
        async with engine(rules_dir, tmp_path / "s.sqlite", clock, listener, **overrides) as run:
            await run.submit([observe("SL-1", clock.now, lamp_temp_c=95)])
            await asyncio.sleep(3600)

    platform = asyncio.create_task(run_until_stopped())
    await asyncio.wait_for(listener.entered.wait(), 10)
    platform.cancel()
    done, _ = await asyncio.wait({platform}, timeout=10)
    assert platform in done
