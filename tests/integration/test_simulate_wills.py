"""Last-wills: what a broker tells the platform when the simulator process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson

from devices import Kind
from smartcity.assembly import fleet_registry
from smartcity.stack import LocalMosquitto
from tests.integration.test_simulate_run import Recorder
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]


def statuses(recorder: Recorder) -> dict[str, bool]:
    """The latest status of each device, by id."""
    latest: dict[str, bool] = {}
    for topic, payload, _ in recorder.messages:
        if topic.endswith("/status"):
            latest[topic.split("/")[3]] = bool(orjson.loads(payload)["online"])
    return latest


def test_a_killed_simulator_fires_the_wills_of_its_dedicated_devices_only(
    mosquitto: LocalMosquitto, tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "SMARTCITY_SIMULATE_DEDICATED_MAX": "3",
        "SMARTCITY_SIMULATE_CLIENT_ID_PREFIX": "will-test",
        "SMARTCITY_LOG_FILE": str(tmp_path / "log.jsonl"),
    }
    command = [str(Path(sys.executable).with_name("smartcity")), "simulate", "run", "--speed", "60"]
    fleet = fleet_registry(ROOT / "config/fleets/demo.yaml")
    lights = sum(1 for device in fleet if fleet[device].kind is Kind.STREETLIGHT)
    recorder = Recorder(mosquitto.url, "city/+/streetlight/+/status")
    simulator = subprocess.Popen(
        [*command, "--mqtt-url", mosquitto.url, "--fleet", str(ROOT / "config/fleets/demo.yaml")],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(
            lambda: len(statuses(recorder)) == lights and all(statuses(recorder).values())
        )
        simulator.send_signal(signal.SIGKILL)
        simulator.wait(timeout=30)
        assert wait_for(lambda: not statuses(recorder)["SL-0003"])
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait(timeout=30)
        recorder.close()
    latest = statuses(recorder)
    assert [latest[f"SL-000{n}"] for n in range(1, 6)] == [False, False, False, True, True]
