"""The fleet runner against a real Mosquitto: what a subscriber sees is the simulated city."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import devices
import simulators
from smartcity.stack import LocalMosquitto
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """A subscriber that keeps every message it receives, in order."""

    def __init__(self, url: str, topic: str) -> None:
        address = url.removeprefix("mqtt://")
        host, port = address.split(":")
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{id(self)}")
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, m, r, p: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, int(port))
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def registry() -> devices.Registry:
    return simulators.generate_registry(
        simulators.load_fleet_spec(ROOT / "config/fleets/demo.yaml")
    )


@pytest.fixture
def recorder(mosquitto: LocalMosquitto) -> Iterator[Recorder]:
    recorder = Recorder(mosquitto.url, "city/+/+/+/+")
    yield recorder
    recorder.close()


def config(
    url: str, scenario: simulators.Scenario | None, **overrides: object
) -> simulators.FleetRunConfig:
    values: dict[str, object] = {
        "mqtt_url": url,
        "seed": 7,
        "interval_s": 60.0,
        "speed": 0.0,
        "start": scenario.start if scenario else datetime(2024, 6, 21, tzinfo=UTC),
        "end": None,
        "scenario": scenario,
        "connections": 2,
        "dedicated_max": 10,
        "inflight_max": 2_000,
        "client_id_prefix": f"sim-{id(overrides)}",
        "connect_timeout_s": 10.0,
        "shutdown_timeout_s": 10.0,
    }
    values.update(overrides)
    return simulators.FleetRunConfig(**values)  # type: ignore[arg-type]


async def test_backfilled_power_cut_reaches_a_subscriber_as_valid_messages(
    mosquitto: LocalMosquitto, recorder: Recorder, registry: devices.Registry
) -> None:
    scenario = simulators.load_scenario(ROOT / "config/scenarios/cabinet-power-cut.yaml")
    assert scenario.start is not None
    end = datetime.fromtimestamp(scenario.start.timestamp() + 3 * 3600, UTC)
    stats = simulators.SimulationStats()
    await simulators.run_fleet(config(mosquitto.url, scenario, end=end), registry, stats=stats)
    assert stats.finished
    assert wait_for(lambda: len(recorder.messages) >= stats.messages_published, timeout_s=30)
    cut_lights = {r.id for r in registry.of_kind(devices.Kind.STREETLIGHT) if r.cabinet == "C-02"}
    lost_power: set[str] = set()
    for topic, payload, _ in recorder.messages:
        message = devices.decode_message(topic, payload)
        reading = message.payload
        if (
            isinstance(reading, devices.StreetlightTelemetry)
            and devices.StreetlightFault.POWER_LOSS in reading.faults
        ):
            lost_power.add(message.topic.device_id)
    assert lost_power == cut_lights


async def test_devices_answer_commands_and_say_goodbye_when_stopped(
    mosquitto: LocalMosquitto, recorder: Recorder, registry: devices.Registry
) -> None:
    stats = simulators.SimulationStats()
    run = config(mosquitto.url, None, speed=60.0, client_id_prefix="sim-cmd")
    task = asyncio.create_task(simulators.run_fleet(run, registry, stats=stats))
    assert await asyncio.to_thread(wait_for, lambda: stats.reports >= 1, timeout_s=30)
    command = {"command_id": "c-1", "action": "dim", "level_pct": 30}
    light = registry["SL-0001"]
    topic = devices.Topic(light.district, light.kind, light.id, devices.Channel.CMD)
    await asyncio.to_thread(recorder.publish, str(topic), orjson.dumps(command))
    result_topic = str(topic.with_channel(devices.Channel.CMD_RESULT))
    assert await asyncio.to_thread(
        wait_for, lambda: any(t == result_topic for t, _, _ in recorder.messages), timeout_s=30
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    reply = next(p for t, p, _ in recorder.messages if t == result_topic)
    result = devices.decode_message(result_topic, reply).payload
    assert isinstance(result, devices.CommandResult)
    assert (result.command_id, result.ok) == ("c-1", True)
    last_status = [
        p for t, p, _ in recorder.messages if t == str(topic.with_channel(devices.Channel.STATUS))
    ][-1]
    assert orjson.loads(last_status)["online"] is False
