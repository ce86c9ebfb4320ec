"""Defence in depth against a real Mosquitto: with a publisher property configured, a message
whose stated publisher is not the topic's device is dead-lettered, never stored.

Mosquitto forwards MQTT 5 user properties as the publisher set them, so here the test plays the
broker's part and sets the property itself; a broker that stamps it (EMQX, VerneMQ) is what
makes the check worth turning on (see README "Security")."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import (
    dead_letters,
    district_subscriptions,
    fleet,
    gateway_config,
    running_gateway,
    telemetry,
    topic_of,
    unique_district,
)
from tests.support import influx_query, until

pytestmark = pytest.mark.timeout(120)


def publish_as(port: int, publisher: str | None, topic: str, payload: bytes) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"pub-{time.time_ns()}", protocol=mqtt.MQTTv5
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if publisher is not None:
        properties.UserProperty = ("publisher", publisher)
    client.publish(topic, payload, qos=1, properties=properties).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


async def test_a_message_published_by_another_client_is_dead_lettered(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    district = unique_district()
    registry = fleet(2, district=district)
    config = gateway_config(
        mosquitto.port,
        subscriptions=district_subscriptions(district),
        publisher_property="publisher",
    )
    now = int(time.time() * 1000)
    own, other = "SL-0000", "SL-0001"
    async with running_gateway(config, registry, influxdb.url, influx_database, tmp_path) as gw:
        topic = topic_of(own, district=district)
        publish_as(mosquitto.port, f"dev-{own}", topic, telemetry(own, 0, now, 1.0))
        publish_as(mosquitto.port, f"dev-{other}", topic, telemetry(own, 1, now + 1, 2.0))
        publish_as(mosquitto.port, None, topic, telemetry(own, 2, now + 2, 3.0))
        assert await until(lambda: gw.stats().received == 3 and gw.stats().in_flight == 0)
        assert gw.stats().stored == 1
    rows = influx_query(influxdb.url, influx_database, 'SELECT "power_w" FROM "streetlight"')
    assert [row["power_w"] for row in rows] == [1.0]
    reasons = sorted(row["reason"] for row in dead_letters(influxdb.url, influx_database))
    assert reasons == ["publisher_mismatch", "publisher_unknown"]
