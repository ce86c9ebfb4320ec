"""The relay as the platform serves it: ``POST /hooks/alertmanager`` on the operators' API built
by ``build_api`` from settings, a real Alertmanager running the rendered config (its webhooks
pointed at the API with the platform's token from a 0600 file), and the locked broker: the relay
publishes as ``platform.relay`` over TLS, and a wall screen (``platform.monitor``) reads the
topic. Unauthenticated calls relay nothing; a broken body is 422 naming the field; a broker
restart does not stop the relay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import httpx
import pytest

from alerts import AlertmanagerNotifier
from api import Scope, TokenStore
from devices import (
    BrokerTls,
    DeviceRecord,
    Kind,
    Registry,
    ServiceRole,
    ssl_context,
)
from smartcity.assembly import ApiService, alertmanager_hook, build_api
from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.security import broker_security, load_credentials, security_paths
from smartcity.settings import Settings, load_settings
from smartcity.stack import LocalMosquitto, free_port
from tests.alert_samples import cabinet_alert, notifier_config
from tests.support import until

pytestmark = pytest.mark.timeout(120)

REGISTRY = Registry.from_records(
    [DeviceRecord(id="SL-R1", kind=Kind.STREETLIGHT, district="centre", cabinet="C-04")]
)
WALL = "city/wall/relay-test"


@dataclass
class Platform:
    settings: Settings
    broker: LocalMosquitto
    api_url: str
    service: ApiService


def write_subscribers(folder: Path) -> Path:
    path = folder / "relay.yaml"
    path.write_text(
        f"subscribers:\n  - name: wall\n    receivers: [lighting-oncall]\n    mqtt_topic: {WALL}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[Settings, LocalMosquitto]]:
    settings = load_settings(
        data_dir=tmp_path,
        insecure=False,
        relay_config_path=write_subscribers(tmp_path),
        api_host="127.0.0.1",
        api_port=free_port(),
    )
    broker = LocalMosquitto(tmp_path / "mosquitto", security=broker_security(settings, REGISTRY))
    with broker:
        yield settings, broker


@contextlib.asynccontextmanager
async def served(settings: Settings, broker: LocalMosquitto) -> AsyncIterator[Platform]:
    """The API as ``smartcity api`` serves it, until the block ends."""
    service = build_api(settings, REGISTRY, mqtt_url=broker.url, influx_url=None)
    task = asyncio.create_task(service.run())
    try:
        async with asyncio.timeout(15):
            await service.server.started.wait()
        yield Platform(settings, broker, service.server.url, service)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def wall_screen(settings: Settings, broker: LocalMosquitto) -> AsyncIterator[list[dict]]:
    """The control centre's wall: every message on the relay's topic, read as platform.monitor."""
    credentials = load_credentials(settings)
    assert credentials is not None
    login = credentials.service_login(ServiceRole.MONITOR)
    assert login is not None
    paths = security_paths(settings)
    tls = BrokerTls(paths.ca_cert, paths.client_cert, paths.client_key, verify=True)
    got: list[dict] = []
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=login.username,
        password=login.password,
        tls_context=ssl_context(tls),
        identifier=f"wall-{uuid.uuid4().hex[:8]}",
    ) as client:
        await client.subscribe(WALL, qos=1)

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


def webhook_body(cabinet: str) -> dict[str, object]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{cabinet="{cabinet}"}}',
        "status": "firing",
        "receiver": "lighting-oncall",
        "groupLabels": {"cabinet": cabinet},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "cabinet-power-lost", "cabinet": cabinet},
                "annotations": {"summary": f"Cabinet {cabinet} without power"},
                "startsAt": "2026-11-23T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"00000000000000{cabinet[-2:]}",
            }
        ],
    }


async def test_alertmanager_delivers_one_group_through_the_served_route_once(
    secured: tuple[Settings, LocalMosquitto],
    make_alertmanager: Callable[..., LocalAlertmanager],
):
    settings, broker = secured
    hook = alertmanager_hook(settings)
    assert hook is not None
    assert hook.url == f"http://127.0.0.1:{settings.api_port}/hooks/alertmanager"
    assert stat.S_IMODE(hook.credentials_file.stat().st_mode) == 0o600
    assert [t.name for t in TokenStore(settings.api_tokens_file).list()] == ["alertmanager"]
    async with served(settings, broker) as platform, wall_screen(settings, broker) as wall:
        assert platform.api_url == f"http://127.0.0.1:{settings.api_port}"
        alertmanager = make_alertmanager(
            webhook_url=hook.url, webhook_credentials_file=hook.credentials_file
        )
        async with AlertmanagerNotifier(notifier_config(alertmanager.url)) as notifier:
            notifier.track([cabinet_alert("C-04", 12)])
            assert await until(lambda: len(wall) == 1, timeout_s=40)
            await asyncio.sleep(3)  # group_interval is 1 s: a second send would be here by now
    assert len(wall) == 1
    (screen,) = wall
    assert screen["receiver"] == "lighting-oncall"
    assert screen["group_labels"] == {"district": "centre", "cabinet": "C-04"}
    assert screen["text"] == "- Cabinet C-04: 12 of 12 lights without power (100 %)"


async def test_the_route_is_locked_validated_and_survives_a_broker_restart(
    secured: tuple[Settings, LocalMosquitto],
):
    settings, broker = secured
    hook = alertmanager_hook(settings)
    assert hook is not None
    token = hook.credentials_file.read_text(encoding="utf-8")
    reader = TokenStore(settings.api_tokens_file).create("reader", Scope.READ).secret
    route = "/hooks/alertmanager"
    signed = {"Authorization": f"Bearer {token}"}
    async with (
        served(settings, broker) as platform,
        httpx.AsyncClient(base_url=platform.api_url, timeout=30) as http,
    ):
        async with wall_screen(settings, broker) as wall:
            nobody = await http.post(route, json=webhook_body("C-11"))
            wrong = await http.post(
                route, json=webhook_body("C-11"), headers={"Authorization": "Bearer sc_0_wrong"}
            )
            too_narrow = await http.post(
                route, json=webhook_body("C-11"), headers={"Authorization": f"Bearer {reader}"}
            )
            codes = (nobody.status_code, wrong.status_code, too_narrow.status_code)
            assert codes == (401, 401, 403)

            broken = webhook_body("C-12")
            del broken["receiver"]
            refused = await http.post(route, json=broken, headers=signed)
            assert refused.status_code == 422
            assert any(error["loc"][-1] == "receiver" for error in refused.json()["detail"])
            await asyncio.sleep(1)
            assert wall == []  # nothing relayed for any of them

            first = await http.post(route, json=webhook_body("C-13"), headers=signed)
            again = await http.post(route, json=webhook_body("C-13"), headers=signed)
            assert first.json() == {"delivered": [f"wall/mqtt:{WALL}"], "duplicates": []}
            assert again.json() == {"delivered": [], "duplicates": [f"wall/mqtt:{WALL}"]}
            assert await until(lambda: len(wall) == 1, timeout_s=10)

        # the relay's connection dies with the broker; the next webhook brings it back
        await asyncio.to_thread(broker.restart)
        async with wall_screen(settings, broker) as wall:
            after = await http.post(route, json=webhook_body("C-14"), headers=signed)
            assert after.status_code == 200, after.text
            assert await until(lambda: len(wall) == 1, timeout_s=10)
        assert wall[0]["group_labels"] == {"cabinet": "C-14"}
        assert platform.service.relay.publisher.connects == 2  # the relay connected again
