"""Downlink commands round trip: the API served by uvicorn on a free port, the real simulated
devices on the real broker, replies matched by correlation id, audited with who asked."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

import api
import devices
import simulators
from smartcity.stack import LocalMosquitto
from tests.integration.api_harness import CommandProbe, Harness, demo_registry, running_api
from tests.support import until

REGISTRY = demo_registry()
SILENT = "CP-0008"  # in the registry, but no simulator plays it: its commands time out
SIMULATED = devices.Registry.from_records(
    [REGISTRY[i] for i in REGISTRY if i != SILENT], city=REGISTRY.city
)


@pytest.fixture(autouse=True)
def every_log_call_runs(caplog: pytest.LogCaptureFixture) -> None:
    """Log calls run as in production (a bad ``extra`` key raises only when a record is made)."""
    caplog.set_level(logging.DEBUG)


@pytest.fixture
async def city(tmp_path: Path, mosquitto: LocalMosquitto) -> AsyncIterator[tuple[Harness, str]]:
    """The API (uvicorn, a free port) and the simulated city, both on the real broker."""
    config = simulators.FleetRunConfig(
        mqtt_url=mosquitto.url,
        seed=3,
        interval_s=0.2,  # the runner answers commands between report rounds
        speed=1.0,
        start=None,
        end=None,
        scenario=None,
        connections=2,
        dedicated_max=5,
        inflight_max=2_000,
        client_id_prefix=f"sim-api-{id(tmp_path)}",
        connect_timeout_s=10,
        shutdown_timeout_s=5,
    )
    stats = simulators.SimulationStats()
    async with running_api(tmp_path, mosquitto.url, REGISTRY, command_timeout_s=3) as harness:
        server = api.ApiServer(harness.app, host="127.0.0.1", port=0, shutdown_timeout_s=5)
        server.bind()
        tasks = [
            asyncio.create_task(simulators.run_fleet(config, SIMULATED, stats=stats)),
            asyncio.create_task(server.run()),
        ]
        try:
            async with asyncio.timeout(20):
                await server.started.wait()
            assert await until(lambda: stats.devices_online == len(SIMULATED), timeout_s=20)
            yield harness, server.url
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def send(url: str, harness: Harness, body: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post(
            "/commands", params={"wait_s": 10}, json=body, headers=harness.headers("operate")
        )


async def test_a_light_is_dimmed_and_the_reply_is_read_back_by_id(
    city: tuple[Harness, str],
) -> None:
    harness, url = city
    answer = await send(url, harness, {"device_id": "SL-0001", "action": "dim", "level_pct": 30})
    assert answer.status_code == 200, answer.text
    command = answer.json()
    assert command["status"] == "done"
    assert command["requested_by"] == "operate-user"
    assert command["arguments"] == {"level_pct": 30.0}
    assert command["deliveries"][0]["device_id"] == "SL-0001"
    assert command["deliveries"][0]["detail"] == "dimmed to 30 %"
    async with httpx.AsyncClient(base_url=url) as client:
        again = await client.get(f"/commands/{command['id']}", headers=harness.headers("read"))
        audit = await client.get("/commands", headers=harness.headers("read"))
    assert again.json() == command
    assert [c["id"] for c in audit.json()] == [command["id"]]


async def test_a_cabinet_junction_and_camera_each_carry_out_their_command(
    city: tuple[Harness, str],
) -> None:
    harness, url = city
    cabinet = await send(url, harness, {"cabinet": "C-01", "action": "dim", "level_pct": 0})
    flash = await send(url, harness, {"junction": "J-02", "action": "set_mode", "mode": "flash"})
    plan = await send(url, harness, {"device_id": "TS-0001", "action": "set_plan", "plan_id": 2})
    reboot = await send(url, harness, {"device_id": "CP-0001", "action": "reboot"})
    lights = [d for d in REGISTRY.values() if d.cabinet == "C-01"]
    assert cabinet.json()["status"] == "done"
    assert sorted(d["device_id"] for d in cabinet.json()["deliveries"]) == sorted(
        d.id for d in lights
    )
    assert flash.json()["target"] == "junction J-02"
    assert [(d["device_id"], d["detail"]) for d in flash.json()["deliveries"]] == [
        ("TS-0002", "mode flash")
    ]
    assert (plan.json()["status"], plan.json()["deliveries"][0]["detail"]) == ("done", "plan 2")
    assert (reboot.json()["status"], reboot.json()["deliveries"][0]["detail"]) == (
        "done",
        "rebooted",
    )


async def test_a_refusal_fails_and_silence_times_out(city: tuple[Harness, str]) -> None:
    harness, url = city
    refused = await send(url, harness, {"device_id": "TS-0001", "action": "set_plan", "plan_id": 9})
    silent = await send(url, harness, {"device_id": SILENT, "action": "reboot"})
    assert refused.json()["status"] == "failed"
    assert "no plan 9" in refused.json()["deliveries"][0]["detail"]
    assert silent.status_code == 200
    assert silent.json()["status"] == "timed_out"
    assert harness.desk.open_count() == 0


async def test_while_the_broker_is_down_a_command_fails_at_once_and_after_it_goes_out(
    tmp_path: Path, make_mosquitto: Callable[..., LocalMosquitto]
) -> None:
    broker = make_mosquitto()
    reboot = {"device_id": "SL-0001", "action": "reboot"}
    async with running_api(tmp_path, broker.url, REGISTRY) as harness:
        broker.stop()
        assert await until(lambda: not harness.link.connected, timeout_s=10)
        async with harness.client() as client:
            down = await client.post("/commands", json=reboot, headers=harness.headers("operate"))
        broker.start()  # the same port: the link reconnects by itself
        assert await until(lambda: harness.link.connected, timeout_s=15)
        async with harness.client() as client:
            back = await client.post("/commands", json=reboot, headers=harness.headers("operate"))
    assert down.status_code == 200
    delivery = down.json()["deliveries"][0]
    assert (down.json()["status"], delivery["status"]) == ("failed", "failed")
    assert "not connected to the broker" in delivery["detail"]
    assert back.status_code == 202  # the broker took it; no device plays SL-0001 here
    assert back.json()["status"] == "sent"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smartcity test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "api.crt", directory / "api.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_with_a_certificate_the_api_speaks_https_only(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    cert, key = self_signed(tmp_path)
    async with running_api(tmp_path, mosquitto.url, REGISTRY) as harness:
        server = api.ApiServer(
            harness.app,
            host="127.0.0.1",
            port=0,
            shutdown_timeout_s=5,
            tls_cert=cert,
            tls_key=key,
        )
        server.bind()
        serving = asyncio.create_task(server.run())
        try:
            await server.started.wait()
            assert server.url.startswith("https://127.0.0.1:")
            async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=cert)) as tls:
                health = await tls.get(f"{server.url}/healthz")
            plain = server.url.replace("https://", "http://")
            async with httpx.AsyncClient() as client:
                with pytest.raises(httpx.HTTPError):
                    await client.get(f"{plain}/healthz")
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
    assert health.status_code == 200


async def test_a_stopped_server_finishes_the_request_in_progress_first(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    async with running_api(tmp_path, mosquitto.url, REGISTRY, command_timeout_s=30) as harness:
        server = api.ApiServer(harness.app, host="127.0.0.1", port=0, shutdown_timeout_s=5)
        server.bind()
        serving = asyncio.create_task(server.run())
        await server.started.wait()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            sent = await client.post(
                "/commands",
                json={"device_id": "SL-0001", "action": "reboot"},  # nobody plays SL-0001 here
                headers=harness.headers("operate"),
            )
            waiting = asyncio.create_task(
                client.get(
                    f"/commands/{sent.json()['id']}",
                    params={"wait_s": 1.5},
                    headers=harness.headers("read"),
                )
            )
            await asyncio.sleep(0.3)  # the request is in progress: the server is told to stop
            serving.cancel()
            answer = await waiting
        await asyncio.gather(serving, return_exceptions=True)
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(base_url=server.url) as late:
                await late.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "sent"


async def test_a_reply_that_came_while_the_api_was_down_settles_its_command_after(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    client_id = f"api-restart-{id(tmp_path)}"
    reboot = {"device_id": "SL-0001", "action": "reboot"}
    async with (
        running_api(tmp_path, mosquitto.url, REGISTRY, client_id=client_id) as first,
        first.client() as client,
    ):
        sent = await client.post("/commands", json=reboot, headers=first.headers("operate"))
    command_id = sent.json()["id"]
    assert sent.json()["status"] == "sent"
    # the device answers while the API is away: its persistent session keeps the reply
    device = CommandProbe(mosquitto.url)
    reply = {"command_id": command_id, "action": "reboot", "ok": True, "detail": "rebooted"}
    reply.update({"ts": "2026-12-01T08:00:00Z", "seq": 1})
    device.client.publish(
        "city/centre/streetlight/SL-0001/cmd_result", json.dumps(reply), qos=1
    ).wait_for_publish(10)
    device.close()
    async with running_api(tmp_path, mosquitto.url, REGISTRY, client_id=client_id) as second:
        assert await until(lambda: second.desk.open_count() == 0, timeout_s=10)
        async with second.client() as client:
            after = await client.get(f"/commands/{command_id}", headers=second.headers("read"))
    assert after.json()["status"] == "done"
    assert after.json()["deliveries"][0]["detail"] == "rebooted"
