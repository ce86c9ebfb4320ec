"""The gateway as a service: graceful stop, metrics and health, its own stats, the rule seam."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from alerts import Observation
from devices import Registry
from gateway import Gateway
from ingest import DurableStore, InfluxV1Writer, Spool
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import (
    STORE_CONFIG,
    Publisher,
    create_database,
    district_subscriptions,
    fleet,
    gateway_config,
    gateway_process,
    influx_config,
    running_gateway,
    spool_config,
    stored_readings,
    stream,
    telemetry,
    topic_of,
    unique_district,
)
from tests.support import influx_query, until, wait_for

pytestmark = pytest.mark.timeout(120)


class Recorder:
    """An ObservationSink that keeps what it is given."""

    def __init__(self) -> None:
        self.batches: list[list[Observation]] = []

    async def submit(self, observations: Sequence[Observation]) -> None:
        await asyncio.sleep(0.001)
        self.batches.append(list(observations))


def test_sigterm_flushes_and_acks_so_a_restart_receives_nothing_again(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    district = unique_district()
    registry = fleet(10, district=district)
    messages = stream(registry, 20_000, int(time.time() * 1000) - 60_000)
    create_database(influxdb.url, influx_database)
    worker = gateway_process(
        tmp_path,
        registry,
        mqtt_port=mosquitto.port,
        influx_url=influxdb.url,
        database=influx_database,
        gateway_subscription=district_subscriptions(district)[0],
    )
    worker.start()
    publisher = Publisher(mosquitto.port)
    try:
        sender = threading.Thread(target=publisher.publish_all, args=(messages,))
        sender.start()
        assert wait_for(lambda: worker.metric("gateway_messages_stored") > 2000, timeout_s=60)
        assert worker.stop() == 0  # SIGTERM mid-stream: whatever it took, it flushes and acks
        sender.join(timeout=60)
        assert publisher.wait_settled()
        stored_before = stored_readings(influxdb.url, influx_database)[0]
        worker.start()
        assert wait_for(
            lambda: stored_readings(influxdb.url, influx_database)[0] == len(messages),
            timeout_s=60,
        )
        # what the first run stored was acked, so the second run received only the rest
        received_again = worker.metric("gateway_messages_received")
        print(f"\nfirst run stored {stored_before}, second run received {received_again:.0f}")
        assert received_again == len(messages) - stored_before
    finally:
        publisher.close()
        worker.kill()


async def test_metrics_health_and_gateway_stats_tell_what_happened(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    district = unique_district()
    registry = fleet(3, district=district)
    config = gateway_config(mosquitto.port, subscriptions=district_subscriptions(district))
    async with running_gateway(config, registry, influxdb.url, influx_database, tmp_path) as gw:
        publisher = Publisher(mosquitto.port)
        now = int(time.time() * 1000)
        for seq in (1, 2, 5):  # a gap of two
            publisher.publish(
                seq,
                topic_of("SL-0001", district=district),
                telemetry("SL-0001", seq, now + seq, 1.0),
            )
        publisher.publish(9, topic_of("SL-0001", district=district), b"{oops")
        assert await asyncio.to_thread(publisher.wait_settled)
        assert await until(lambda: gw.stats().stored == 3 and gw.stats().rejected == 1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.metrics_port}") as http:
            health = await http.get("/healthz")
            metrics = (await http.get("/metrics")).text
        assert await until(
            lambda: bool(
                influx_query(
                    influxdb.url, influx_database, 'SELECT last("missing") FROM "gateway_sequence"'
                )
            ),
            timeout_s=10,
        )
        publisher.close()
    assert health.status_code == 200
    assert health.json()["connected"] is True
    assert "gateway_messages_stored_total 3.0" in metrics
    assert 'gateway_messages_rejected_total{reason="malformed_json"} 1.0' in metrics
    # one series per kind, district and anomaly, never per device ...
    assert (
        f'gateway_sequence_anomalies_total{{anomaly="gap",district="{district}",kind="streetlight"}}'
        " 2.0" in metrics
    )
    assert "device_id=" not in metrics
    assert "gateway_store_latency_seconds_count" in metrics
    rows = influx_query(influxdb.url, influx_database, 'SELECT * FROM "gateway_stats"')
    assert rows[-1]["worker"] == config.client_id
    assert rows[-1]["rejected"] == 1
    # ... the device's own counts are in InfluxDB
    sequence = influx_query(influxdb.url, influx_database, 'SELECT * FROM "gateway_sequence"')
    assert [(row["device_id"], row["kind"], row["missing"]) for row in sequence] == [
        ("SL-0001", "streetlight", 2)
    ]


async def test_durable_batches_reach_the_rule_engine_in_receive_order(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    district = unique_district()
    registry: Registry = fleet(1, district=district)
    config = gateway_config(
        mosquitto.port, subscriptions=district_subscriptions(district), batch_max=50
    )
    create_database(influxdb.url, influx_database)
    recorder = Recorder()
    writer = InfluxV1Writer(influx_config(influxdb.url, influx_database))
    spool = Spool(spool_config(tmp_path))
    async with writer, DurableStore(writer, spool, STORE_CONFIG) as store:
        gateway = Gateway(config, registry, store, sink=recorder)
        task = asyncio.create_task(gateway.run())
        await asyncio.wait_for(gateway.ready.wait(), 30)
        publisher = Publisher(mosquitto.port)
        now = int(time.time() * 1000)
        await asyncio.to_thread(
            publisher.publish_all,
            [
                (
                    topic_of("SL-0000", district=district),
                    telemetry("SL-0000", seq, now + seq, 1.0),
                    1.0,
                )
                for seq in range(1000)
            ],
        )
        assert await until(lambda: sum(len(b) for b in recorder.batches) == 1000)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        publisher.close()
    seqs = [getattr(o.message.payload, "seq", None) for batch in recorder.batches for o in batch]
    assert seqs == list(range(1000))
    assert len(recorder.batches) > 1
    assert all(o.device is registry["SL-0000"] for batch in recorder.batches for o in batch)
