"""Several ``smartcity gateway`` processes share the fleet without splitting a device."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway import owner_of
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import (
    Publisher,
    create_database,
    fleet,
    gateway_process,
    stored_readings,
    stream,
    unique_district,
)
from tests.support import wait_for

pytestmark = pytest.mark.timeout(180)

WORKERS = 3


def test_three_workers_store_everything_once_and_each_device_stays_with_one_worker(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    registry = fleet(30, district=unique_district())
    messages = stream(registry, 6000, int(time.time() * 1000) - 60_000)
    create_database(influxdb.url, influx_database)
    workers = [
        gateway_process(
            tmp_path,
            registry,
            mqtt_port=mosquitto.port,
            influx_url=influxdb.url,
            database=influx_database,
            name=f"worker-{index}",
            gateway_workers=WORKERS,
            gateway_worker_index=index,
        )
        for index in range(WORKERS)
    ]
    publisher = Publisher(mosquitto.port)
    try:
        for worker in workers:
            worker.start()
        publisher.publish_all(messages)
        assert publisher.wait_settled()
        assert wait_for(
            lambda: sum(w.metric("gateway_messages_stored") for w in workers) == len(messages),
            timeout_s=60,
        )
        stored = [int(w.metric("gateway_messages_stored")) for w in workers]
        seen = [int(w.metric("gateway_devices_seen")) for w in workers]
        anomalies = [w.metric("gateway_sequence_anomalies") for w in workers]
        print(f"\nstored per worker {stored}, devices per worker {seen}, anomalies {anomalies}")
        owned = [sum(1 for d in registry if owner_of(d, WORKERS) == i) for i in range(WORKERS)]
        # every device seen by exactly its owner, so its sequence is whole: no gap, no replay
        assert seen == owned
        assert stored == [n * len(messages) // len(registry) for n in owned]
        assert anomalies == [0.0] * WORKERS
        assert stored_readings(influxdb.url, influx_database)[0] == len(messages)
    finally:
        publisher.close()
        for worker in workers:
            worker.stop()
