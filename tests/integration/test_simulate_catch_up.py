"""Real time follows the wall clock: a run that starts in the past catches up, then keeps pace.

This is what `smartcity up --demo --scenario NAME` relies on: the incident is replayed as fast
as the broker takes it and the city carries on live, with no goodbye in between.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

import devices
import simulators
from smartcity.assembly import run_config
from smartcity.platform import replay_start
from smartcity.settings import load_settings
from smartcity.stack import LocalMosquitto
from tests.integration.test_simulate_run import Recorder

ROOT = Path(__file__).resolve().parents[2]


def test_a_real_time_run_from_the_past_catches_up_then_keeps_pace(
    mosquitto: LocalMosquitto,
) -> None:
    registry = devices.load_registry(ROOT / "config" / "fleet.yaml")
    light = registry.of_kind(devices.Kind.STREETLIGHT)[0]
    recorder = Recorder(mosquitto.url, f"city/{light.district}/streetlight/{light.id}/telemetry")
    now = datetime.now(UTC)
    config = run_config(
        load_settings(),
        mosquitto.url,
        speed=1.0,
        interval_s=60.0,
        start=now - timedelta(minutes=30),
        end=now + timedelta(seconds=90),
        client_id_prefix="catch-up",
    )

    async def run_for(seconds: float) -> None:
        task = asyncio.create_task(
            simulators.run_fleet(config, registry, stats=simulators.SimulationStats())
        )
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    started = time.time()
    asyncio.run(run_for(8))
    recorder.close()
    stamps = [orjson.loads(payload)["ts"] for _, payload, _ in recorder.messages]
    times = [
        datetime.fromtimestamp(stamp / 1000, UTC)
        if isinstance(stamp, int)
        else datetime.fromisoformat(stamp)
        for stamp in stamps
    ]
    # the 30 minutes behind the wall clock arrived at once: a report a simulated minute
    assert 29 <= len(times) <= 32
    # and nothing ran ahead of the wall clock while the run went on live
    assert max(times) <= datetime.fromtimestamp(started + 9, UTC)


def test_a_replayed_scenario_keeps_its_clock_times_and_is_over_by_now() -> None:
    registry = devices.load_registry(ROOT / "config" / "fleet.yaml")
    scenario = simulators.load_scenario(ROOT / "config" / "scenarios" / "cabinet-power-cut.yaml")
    now = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)  # 20:30 in Shanghai
    start = replay_start(scenario, registry, now)
    assert scenario.start is not None
    assert start.astimezone(scenario.start.tzinfo).time() == scenario.start.time()
    assert start + timedelta(seconds=scenario.duration_s or 0) <= now
    assert now - start < timedelta(days=1, seconds=scenario.duration_s or 0)
