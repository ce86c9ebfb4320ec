"""Receive → validate → store → ack, against a real Mosquitto and InfluxDB."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import (
    Publisher,
    dead_letters,
    district_subscriptions,
    fleet,
    gateway_config,
    running_gateway,
    stored_readings,
    stream,
    telemetry,
    topic_of,
    unique_district,
)
from tests.support import influx_query, until

pytestmark = pytest.mark.timeout(120)


async def test_every_valid_reading_is_stored_once_with_its_content(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    district = unique_district()
    registry = fleet(20, district=district)
    messages = stream(registry, 3000, int(time.time() * 1000) - 60_000)
    config = gateway_config(mosquitto.port, subscriptions=district_subscriptions(district))
    async with running_gateway(config, registry, influxdb.url, influx_database, tmp_path) as gw:
        publisher = Publisher(mosquitto.port)
        await asyncio.to_thread(publisher.publish_all, messages)
        assert await asyncio.to_thread(publisher.wait_settled)
        assert await until(lambda: gw.stats().stored == len(messages))
        publisher.close()
    count, power_sum = stored_readings(influxdb.url, influx_database)
    print(f"\nstored {count} of {len(messages)}, power sum {power_sum}")
    assert count == len(messages)
    assert power_sum == pytest.approx(sum(power for _, _, power in messages))


async def test_a_restarted_gateway_gets_nothing_again_because_everything_was_acked(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    district = unique_district()
    registry = fleet(5, district=district)
    config = gateway_config(mosquitto.port, subscriptions=district_subscriptions(district))
    now = int(time.time() * 1000)
    publisher = Publisher(mosquitto.port)
    async with running_gateway(config, registry, influxdb.url, influx_database, tmp_path) as gw:
        await asyncio.to_thread(publisher.publish_all, stream(registry, 500, now))
        assert await asyncio.to_thread(publisher.wait_settled)
        assert await until(lambda: gw.stats().stored == 500)
    async with running_gateway(config, registry, influxdb.url, influx_database, tmp_path) as gw:
        # the broker delivers in order: anything left unacked would arrive before this one
        publisher.publish(
            0, topic_of("SL-0000", district=district), telemetry("SL-0000", 10_000, now, 1.0)
        )
        assert await until(lambda: gw.stats().stored >= 1)
        assert gw.stats().received == 1
    publisher.close()


async def test_a_rejected_message_is_dead_lettered_stored_and_published_with_its_reason(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    district = unique_district()
    registry = fleet(2, district=district)
    seen: list[tuple[str, bytes]] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    watcher.on_message = lambda client, userdata, message: seen.append(
        (message.topic, message.payload)
    )
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.subscribe("city/deadletter/#", qos=1)
    watcher.loop_start()
    config = gateway_config(mosquitto.port, subscriptions=district_subscriptions(district))
    bad = telemetry("SL-0001", 1, int(time.time() * 1000), 5000.0)
    async with running_gateway(config, registry, influxdb.url, influx_database, tmp_path) as gw:
        publisher = Publisher(mosquitto.port)
        publisher.publish(0, topic_of("SL-0001", district=district), bad)
        assert await asyncio.to_thread(publisher.wait_settled)
        assert await until(lambda: bool(seen) and gw.stats().rejected == 1)
        publisher.close()
    watcher.loop_stop()
    topic, body = seen[0]
    letter = orjson.loads(body)
    assert topic == "city/deadletter/out_of_range"
    assert letter["topic"] == topic_of("SL-0001", district=district)
    assert "power_w 5000.0 out of range 0–1000" in letter["detail"]
    assert base64.b64decode(letter["payload_b64"]) == bad
    rows = dead_letters(influxdb.url, influx_database)
    assert [(row["reason"], row["device_id"]) for row in rows] == [("out_of_range", "SL-0001")]
    assert base64.b64decode(rows[0]["payload_b64"]) == bad


async def test_status_and_last_will_mark_a_device_online_then_offline(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    district = unique_district()
    registry = fleet(1, district=district)
    config = gateway_config(mosquitto.port, subscriptions=district_subscriptions(district))
    status_topic = topic_of("SL-0000", "status", district=district)
    async with running_gateway(config, registry, influxdb.url, influx_database, tmp_path) as gw:
        device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="SL-0000", protocol=mqtt.MQTTv5)
        device.will_set(status_topic, b'{"online": false}', qos=1, retain=True)
        device.connect("127.0.0.1", mosquitto.port, keepalive=5)
        device.loop_start()
        device.publish(status_topic, b'{"online": true, "firmware": "1.2"}', qos=1, retain=True)
        assert await until(lambda: gw.stats().devices_online == 1)
        device.loop_stop()
        device.socket().close()  # an unclean end: the broker publishes the last-will
        assert await until(lambda: gw.stats().devices_online == 0, timeout_s=30)
        assert gw.presence.devices["SL-0000"].online is False
    # leave no retained status behind for other tests on the shared broker
    cleaner = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    cleaner.connect("127.0.0.1", mosquitto.port)
    cleaner.loop_start()
    cleaner.publish(status_topic, b"", qos=1, retain=True).wait_for_publish(timeout=10)
    cleaner.disconnect()
    cleaner.loop_stop()
    rows = influx_query(influxdb.url, influx_database, 'SELECT "online" FROM "device_status"')
    assert [row["online"] for row in rows] == [True, False]
