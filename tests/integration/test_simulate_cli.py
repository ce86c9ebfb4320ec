"""`smartcity simulate` as an engineer runs it: generate a registry, backfill a scenario."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from typer.testing import CliRunner

import devices
import simulators
from smartcity.assembly import run_config
from smartcity.cli import app
from smartcity.settings import load_settings
from smartcity.stack import LocalMosquitto
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_fleet_writes_a_registry_the_gateway_can_load(tmp_path: Path) -> None:
    target = tmp_path / "fleet.yaml"
    result = CliRunner().invoke(app, ["simulate", "fleet", "--devices", "2000", "-o", str(target)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    registry = devices.load_registry(target)
    assert summary["devices"] == len(registry) > 1_900


def test_a_bad_fleet_file_is_named_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("districts: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", "fleet", str(bad), "-o", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert f"{bad}:1: districts: Tuple should have at least 1 item" in result.output


def test_run_backfills_a_scenario_and_prints_a_summary(mosquitto: LocalMosquitto) -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "run",
            "--scenario",
            "offline-camera",
            "--speed",
            "0",
            "--duration",
            "30m",
            "--interval",
            "60",
            "--mqtt-url",
            mosquitto.url,
            "--fleet",
            str(ROOT / "config/fleets/demo.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["devices"] == 99
    assert summary["report_rounds"] == 30
    assert summary["publish_errors"] == 0
    assert summary["sim_end"] == "2024-06-21T00:29:00+00:00"


async def test_command_sends_a_downlink_command_and_prints_the_devices_answer(
    mosquitto: LocalMosquitto,
) -> None:
    registry = devices.load_registry(ROOT / "config/fleet.yaml")
    config = run_config(
        load_settings(),
        mosquitto.url,
        speed=60.0,
        client_id_prefix="cli-command",
        dedicated_max=2,
        connections=1,
    )
    stats = simulators.SimulationStats()
    fleet = asyncio.create_task(simulators.run_fleet(config, registry, stats=stats))
    try:
        assert await asyncio.to_thread(wait_for, lambda: stats.reports >= 1)
        arguments = ["simulate", "command", "TS-0002", "set_plan", "--plan", "3"]
        result = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            [*arguments, "--mqtt-url", mosquitto.url],
            env={"SMARTCITY_REGISTRY_PATH": str(ROOT / "config/fleet.yaml")},
        )
    finally:
        fleet.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fleet
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert (answer["action"], answer["ok"], answer["detail"]) == ("set_plan", True, "plan 3")
