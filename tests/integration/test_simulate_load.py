"""Load mode: the fleet split over processes reaches the broker whole, valid and unrepeated."""

from __future__ import annotations

from datetime import UTC, datetime

import devices
import simulators
from smartcity.stack import LocalMosquitto
from tests.integration.test_simulate_run import Recorder
from tests.support import wait_for


def test_two_load_processes_share_the_fleet_and_every_message_arrives_valid(
    mosquitto: LocalMosquitto,
) -> None:
    recorder = Recorder(mosquitto.url, "city/+/+/+/+")
    try:
        spec = simulators.scaled_fleet_spec(300)
        config = simulators.LoadConfig(
            mqtt_url=mosquitto.url,
            fleet=spec,
            seed=3,
            processes=2,
            rate_msg_s=3_000,
            duration_s=1.5,
            qos=1,
            connections=2,
            inflight_max=1_000,
            interval_s=5.0,
            start_s=datetime(2024, 6, 24, 8, tzinfo=UTC).timestamp(),
            client_id_prefix="load-test",
            connect_timeout_s=10.0,
        )
        result = simulators.run_load(config)
        assert result.acknowledged == result.published > 0
        assert result.errors == 0
        # paced, not flat out: never ahead of the target by more than one report round
        assert result.published <= 3_000 * result.elapsed_s + 2 * 200
        assert [p.devices for p in result.per_process] == [150, 150]
        assert wait_for(
            lambda: sum(not r for _, _, r in recorder.messages) >= result.published, timeout_s=30
        )
    finally:
        recorder.close()
    seen: set[tuple[str, int]] = set()
    speakers = set()
    for topic, payload, retained in recorder.messages:
        if retained:
            continue  # statuses other tests left on the shared broker
        message = devices.decode_message(topic, payload)
        reading = message.payload
        assert isinstance(reading, devices.Reading)
        key = (message.topic.device_id, reading.seq)
        assert key not in seen
        seen.add(key)
        speakers.add(message.topic.device_id)
    assert speakers == set(simulators.generate_registry(spec))
