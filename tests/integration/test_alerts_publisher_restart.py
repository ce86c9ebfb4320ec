"""The alert publisher across a broker restart: a real Mosquitto stopped and started again while
alerts fire. The next change still reaches ``city/alerts/#``, and the change made while the
broker was away reaches it too (owed to the publisher, or re-announced on demand)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import orjson

from alerts import AlertEngine, load_rules
from devices import alert_subscription
from smartcity.assembly import alert_publisher, alerts_config
from smartcity.settings import load_settings
from tests.support import until
from tests.unit.alerts.factory import REGISTRY, observe

RULE = """\
rules:
  - name: hot
    kind: streetlight
    severity: warning
    summary: "{device} at {value}"
    runbook: https://runbooks.example/hot
    condition: {type: threshold, field: lamp_temp_c, above: 80, clear: 70}
"""


async def receive(port: int, into: list[dict[str, Any]], subscribed: asyncio.Event) -> None:
    """An operator's client on city/alerts/#, until cancelled."""
    async with aiomqtt.Client("127.0.0.1", port, identifier="operator") as client:
        await client.subscribe(alert_subscription(), qos=1)
        subscribed.set()
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            into.append(orjson.loads(message.payload))


def firing(documents: list[dict[str, Any]]) -> set[str]:
    return {d["labels"]["device"] for d in documents if d["change"] == "firing"}


async def test_alert_changes_reach_mqtt_again_after_a_broker_restart(make_mosquitto, tmp_path):
    broker = make_mosquitto()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "hot.yaml").write_text(RULE)
    settings = load_settings(
        data_dir=tmp_path,
        alerts_watch_rules=False,
        alerts_reannounce_interval_s=0,
        alerts_retry_min_s=0.1,
        alerts_retry_max_s=0.5,
        gateway_client_id="restart-test",
    )
    documents: list[dict[str, Any]] = []
    operators: list[asyncio.Task[None]] = []
    now = datetime.now(UTC)

    async def operator_connects() -> None:
        subscribed = asyncio.Event()
        operators.append(asyncio.create_task(receive(broker.port, documents, subscribed)))
        await asyncio.wait_for(subscribed.wait(), 10)

    try:
        async with (
            alert_publisher(settings, broker.url) as publisher,
            AlertEngine(
                alerts_config(settings),
                load_rules(tmp_path / "rules"),
                REGISTRY,
                tmp_path / "alerts.sqlite",
                listeners=[publisher],
            ) as engine,
        ):
            await operator_connects()
            await engine.submit([observe("SL-1", now, lamp_temp_c=95)])
            assert await until(lambda: firing(documents) == {"SL-1"}, timeout_s=10)

            await asyncio.to_thread(broker.stop)
            # while the broker is away an alert fires: the publisher cannot take it
            await engine.submit([observe("SL-3", now, lamp_temp_c=95)])
            await engine.flush()
            assert engine.listener_stats()[0].owed == 1
            await asyncio.to_thread(broker.start)

            await operator_connects()
            await engine.submit([observe("SL-2", now, lamp_temp_c=95)])
            assert await until(lambda: "SL-2" in firing(documents), timeout_s=10)
            await engine.reannounce()  # what fired while the broker was away reaches it too
            assert await until(lambda: firing(documents) == {"SL-1", "SL-2", "SL-3"}, timeout_s=10)
            assert publisher.connects == 2
            assert engine.listener_stats()[0].owed == 0
    finally:
        for task in operators:
            task.cancel()
        await asyncio.gather(*operators, return_exceptions=True)
