"""Devices carry out downlink commands and answer each on their cmd_result topic."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

import devices
import simulators
from tests.unit.simulators.conftest import demo_registry

REGISTRY = demo_registry()
NIGHT = datetime(2024, 1, 15, 14, tzinfo=UTC).timestamp()  # 22:00 in Shanghai


def command(
    simulation: simulators.FleetSimulation, device_id: str, body: dict[str, object]
) -> list[devices.Message]:
    record = REGISTRY[device_id]
    topic = devices.Topic(record.district, record.kind, record.id, devices.Channel.CMD)
    out = simulation.handle_command(str(topic), orjson.dumps(body), NIGHT)
    return [devices.decode_message(m.topic, m.payload) for m in out]


def reply(messages: list[devices.Message]) -> devices.CommandResult:
    results = [m.payload for m in messages if isinstance(m.payload, devices.CommandResult)]
    assert len(results) == 1
    return results[0]


def light(
    simulation: simulators.FleetSimulation, device_id: str, t: float
) -> devices.StreetlightTelemetry:
    for message in simulation.step(t):
        decoded = devices.decode_message(message.topic, message.payload)
        if decoded.topic.device_id == device_id:
            assert isinstance(decoded.payload, devices.StreetlightTelemetry)
            return decoded.payload
    raise AssertionError(device_id)


def test_a_dimmed_light_reports_the_new_level_until_its_time_is_up() -> None:
    simulation = simulators.FleetSimulation(REGISTRY, seed=1, interval_s=60, start_s=NIGHT)
    assert light(simulation, "SL-0001", NIGHT).dimming_pct == 100.0
    result = reply(
        command(
            simulation,
            "SL-0001",
            {"command_id": "dim-1", "action": "dim", "level_pct": 30, "duration_s": 600},
        )
    )
    assert (result.command_id, result.ok) == ("dim-1", True)
    assert light(simulation, "SL-0001", NIGHT + 60).dimming_pct == 30.0
    assert light(simulation, "SL-0002", NIGHT + 60).dimming_pct == 100.0
    assert light(simulation, "SL-0001", NIGHT + 660).dimming_pct == 100.0


def test_a_signal_takes_a_new_plan_and_a_manual_mode() -> None:
    simulation = simulators.FleetSimulation(REGISTRY, seed=1, interval_s=60, start_s=NIGHT)
    assert reply(
        command(simulation, "TS-0001", {"command_id": "p", "action": "set_plan", "plan_id": 2})
    ).ok
    assert reply(
        command(simulation, "TS-0001", {"command_id": "m", "action": "set_mode", "mode": "manual"})
    ).ok
    reading = next(
        devices.decode_message(m.topic, m.payload).payload
        for m in simulation.step(NIGHT + 60)
        if "/TS-0001/telemetry" in m.topic
    )
    assert isinstance(reading, devices.TrafficSignalTelemetry)
    assert (reading.plan_id, reading.mode) == (2, devices.SignalMode.MANUAL)


def test_a_command_the_device_cannot_do_is_refused_with_a_reason() -> None:
    simulation = simulators.FleetSimulation(REGISTRY, seed=1, interval_s=60, start_s=NIGHT)
    refused = reply(
        command(simulation, "SL-0001", {"command_id": "x", "action": "set_plan", "plan_id": 1})
    )
    assert not refused.ok
    assert "streetlight cannot set_plan" in refused.detail
    unknown = reply(
        command(simulation, "TS-0001", {"command_id": "y", "action": "set_plan", "plan_id": 9})
    )
    assert not unknown.ok
    assert "no plan 9" in unknown.detail


def test_a_rebooted_camera_goes_offline_and_back_and_says_it_did() -> None:
    simulation = simulators.FleetSimulation(REGISTRY, seed=1, interval_s=60, start_s=NIGHT)
    messages = command(simulation, "CP-0001", {"command_id": "r", "action": "reboot"})
    statuses = [m.payload.online for m in messages if isinstance(m.payload, devices.Status)]
    assert statuses == [False, True]
    assert reply(messages).ok


def test_a_malformed_command_gets_no_answer_and_is_counted() -> None:
    simulation = simulators.FleetSimulation(REGISTRY, seed=1, interval_s=60, start_s=NIGHT)
    assert command(simulation, "SL-0001", {"command_id": "z", "action": "dim"}) == []
    assert simulation.counters.commands_rejected == 1


ARGUMENTS: dict[devices.CommandAction, dict[str, object]] = {
    devices.CommandAction.DIM: {"level_pct": 40},
    devices.CommandAction.SET_PLAN: {"plan_id": 2},
    devices.CommandAction.SET_MODE: {"mode": "flash"},
    devices.CommandAction.REBOOT: {},
}


def test_devices_carry_out_exactly_the_actions_the_catalogue_gives_their_kind() -> None:
    simulation = simulators.FleetSimulation(REGISTRY, seed=1, interval_s=60, start_s=NIGHT)
    for kind in devices.Kind:
        device = REGISTRY.of_kind(kind)[0]
        for action, arguments in ARGUMENTS.items():
            body = {"command_id": f"c-{kind}-{action}", "action": action.value, **arguments}
            answer = reply(command(simulation, device.id, body))
            assert answer.ok is (action in devices.actions_for(kind)), (kind, action, answer)
