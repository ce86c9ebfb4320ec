"""The relay between a real Alertmanager and the channels it lacks: its webhook served by a
small FastAPI app (the API serves the same ``AlertRelay``: test_relay_route.py), forwarded to an
MQTT topic on the real broker and to an apprise URL (a real HTTP receiver); a retried webhook sends
nothing twice, also across a restart of the relay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import uvicorn
from fastapi import FastAPI, Response

from alerts import (
    AlertmanagerNotifier,
    AlertRelay,
    DeliveryLog,
    MqttAlertPublisher,
    RelayDeliveryFailed,
    Subscriber,
    WebhookPayload,
)
from devices import BrokerAddress
from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.stack import LocalMosquitto, free_port
from tests.alert_samples import cabinet_alert, notifier_config
from tests.support import WebhookReceiver, until


def relay_publisher(mosquitto: LocalMosquitto) -> MqttAlertPublisher:
    """The relay's MQTT side as the platform gives it: a reconnecting connection of its own."""
    return MqttAlertPublisher(
        BrokerAddress("127.0.0.1", mosquitto.port, None, None, tls=False),
        identifier=f"relay-{uuid.uuid4()}",
        qos=1,
        timeout_s=5.0,
        reconnect_min_s=0.1,
        reconnect_max_s=1.0,
    )


@contextlib.asynccontextmanager
async def served(relay: AlertRelay) -> AsyncIterator[str]:
    """``POST /hooks/alertmanager`` on a loopback port: 200 when delivered, 503 to be retried."""
    api = FastAPI()

    @api.post("/hooks/alertmanager")
    async def hook(payload: WebhookPayload) -> Response:
        try:
            await relay.handle(payload)
        except RelayDeliveryFailed:
            return Response(status_code=503)
        return Response(status_code=200)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        assert await until(lambda: server.started, timeout_s=10)
        yield f"http://127.0.0.1:{port}/hooks/alertmanager"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def subscribed(
    mosquitto: LocalMosquitto, topic: str
) -> AsyncIterator[list[dict[str, object]]]:
    """A wall screen: every message on ``topic``, decoded."""
    got: list[dict[str, object]] = []
    async with aiomqtt.Client(
        "127.0.0.1", mosquitto.port, identifier=f"wall-{uuid.uuid4()}"
    ) as client:
        await client.subscribe(topic, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                got.append(json.loads(bytes(message.payload)))  # type: ignore[arg-type]

        task = asyncio.create_task(collect())
        try:
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_notification_reaches_the_wall_topic_and_apprise_once_though_retried(
    make_alertmanager: Callable[..., LocalAlertmanager], mosquitto: LocalMosquitto, tmp_path: Path
):
    topic = f"test/wall/{uuid.uuid4().hex[:8]}"
    with WebhookReceiver() as chat:
        chat.failures = 1  # the chat gateway fails once: Alertmanager must retry
        subscriber = Subscriber(
            name="wall",
            receivers=("lighting-oncall",),
            mqtt_topic=topic,
            apprise=(f"json://127.0.0.1:{chat.port}/dingtalk",),
        )
        async with (
            subscribed(mosquitto, topic) as wall,
            relay_publisher(mosquitto) as mqtt,
        ):
            relay = AlertRelay(
                [subscriber],
                publish=mqtt.publish,
                seen=DeliveryLog(tmp_path / "relay.sqlite"),
                dedup_window_s=600,
            )
            async with served(relay) as url:
                alertmanager = make_alertmanager(webhook_url=url)
                async with AlertmanagerNotifier(notifier_config(alertmanager.url)) as notifier:
                    notifier.track([cabinet_alert("C-04", 12)])
                    assert await until(lambda: len(chat.bodies) == 1, timeout_s=40)
                    await asyncio.sleep(3)
    assert len(wall) == 1
    (screen,) = wall
    assert screen["receiver"] == "lighting-oncall"
    assert screen["group_labels"] == {"district": "centre", "cabinet": "C-04"}
    assert screen["text"] == "- Cabinet C-04: 12 of 12 lights without power (100 %)"
    (message,) = chat.bodies
    assert message["title"] == "[FIRING] cabinet=C-04, district=centre (1 firing)"
    assert "Cabinet C-04: 12 of 12 lights without power" in str(message["message"])
    assert relay.duplicates >= 1  # the retry found the MQTT message already delivered
    assert relay.failed == 1


async def test_a_restarted_relay_remembers_what_it_delivered(
    mosquitto: LocalMosquitto, tmp_path: Path
):
    topic = f"test/wall/{uuid.uuid4().hex[:8]}"
    payload = WebhookPayload.model_validate(
        {
            "version": "4",
            "groupKey": '{}:{cabinet="C-09"}',
            "status": "firing",
            "receiver": "lighting-oncall",
            "groupLabels": {"cabinet": "C-09"},
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "cabinet-power-lost", "cabinet": "C-09"},
                    "annotations": {"summary": "Cabinet C-09 without power"},
                    "startsAt": "2026-11-23T12:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "00000000000000c9",
                }
            ],
        }
    )
    subscriber = Subscriber(name="wall", receivers=("lighting-oncall",), mqtt_topic=topic)
    async with (
        subscribed(mosquitto, topic) as wall,
        relay_publisher(mosquitto) as mqtt,
    ):
        for _ in range(2):  # the relay restarted between Alertmanager's two tries
            log = DeliveryLog(tmp_path / "relay.sqlite")
            relay = AlertRelay([subscriber], publish=mqtt.publish, seen=log, dedup_window_s=600)
            await relay.handle(payload)
            log.close()
        assert await until(lambda: len(wall) == 1, timeout_s=10)
        await asyncio.sleep(1)
    assert len(wall) == 1
    assert relay.duplicates == 1
