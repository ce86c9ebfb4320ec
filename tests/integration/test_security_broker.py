"""The locked broker, for real: Mosquitto 2.0 with the generated password file, ACLs and TLS
(client certificates required), the gateway and the simulators connecting through it."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import simulators
from devices import (
    BrokerTls,
    Channel,
    Credentials,
    DeviceRecord,
    Kind,
    Login,
    Registry,
    ServiceRole,
    Topic,
    make_authority,
    make_certificate,
    ssl_context,
)
from gateway import GatewayConfig
from smartcity.security import broker_security, load_credentials, security_paths
from smartcity.security import write_credentials as rotate_credentials
from smartcity.settings import Settings, load_settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.test_gateway_support import gateway_config, running_gateway, telemetry
from tests.support import influx_query, until, wait_for

pytestmark = pytest.mark.timeout(120)

DISTRICT = "secure"
REGISTRY = Registry.from_records(
    [
        DeviceRecord(id="SL-A", kind=Kind.STREETLIGHT, district=DISTRICT, cabinet="C-01"),
        DeviceRecord(id="SL-B", kind=Kind.STREETLIGHT, district=DISTRICT, cabinet="C-01"),
        DeviceRecord(id="SL-C", kind=Kind.STREETLIGHT, district=DISTRICT, cabinet="C-01"),
    ]
)


@dataclass
class Secured:
    broker: LocalMosquitto
    settings: Settings
    tls: BrokerTls

    def credentials(self) -> Credentials:
        found = load_credentials(self.settings)
        assert found is not None
        return found

    def login(self, device_id: str) -> Login:
        login = self.credentials().device_login(device_id)
        assert login is not None
        return login

    def service(self, role: ServiceRole) -> Login:
        login = self.credentials().service_login(role)
        assert login is not None
        return login


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    folder = tmp_path_factory.mktemp("secured")
    settings = load_settings(data_dir=folder, insecure=False)
    broker = LocalMosquitto(folder / "mosquitto", security=broker_security(settings, REGISTRY))
    paths = security_paths(settings)
    tls = BrokerTls(paths.ca_cert, paths.client_cert, paths.client_key, verify=True)
    with broker:
        yield Secured(broker, settings, tls)


def connect(
    port: int,
    login: Login | None,
    context: ssl.SSLContext | None,
    *,
    client_id: str,
    timeout_s: float = 5.0,
) -> tuple[mqtt.Client | None, str]:
    """Connect as a device would; (client, "ok") or (None, why it did not get in)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if login is not None:
        client.username_pw_set(login.username, login.password)
    if context is not None:
        client.tls_set_context(context)
    outcome: list[str] = []
    done = threading.Event()

    def on_connect(
        c: mqtt.Client, userdata: object, flags: object, reason: object, _: object
    ) -> None:
        outcome.append(str(reason))
        done.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except (OSError, ssl.SSLError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    client.loop_start()
    done.wait(timeout_s)
    if outcome == ["Success"]:
        return client, "ok"
    client.loop_stop()
    client.disconnect()
    return None, outcome[0] if outcome else "no CONNACK (connection closed)"


def publish(client: mqtt.Client, topic: str, payload: bytes) -> None:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(timeout=5)


def topic(device_id: str, channel: Channel = Channel.TELEMETRY) -> str:
    return str(Topic(DISTRICT, Kind.STREETLIGHT, device_id, channel))


def stored(url: str, database: str, device_id: str) -> list[dict[str, object]]:
    return influx_query(
        url, database, f'SELECT * FROM "streetlight" WHERE "device_id" = \'{device_id}\''
    )


def secured_gateway(secured: Secured) -> GatewayConfig:
    login = secured.service(ServiceRole.GATEWAY)
    return gateway_config(
        secured.broker.port,
        mqtt_username=login.username,
        mqtt_password=login.password,
        mqtt_tls=secured.tls,
        subscriptions=(f"city/{DISTRICT}/+/+/telemetry", f"city/{DISTRICT}/+/+/status"),
    )


async def test_a_device_with_its_credentials_is_stored_and_cannot_speak_for_another(
    secured: Secured, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    config = secured_gateway(secured)
    now = int(time.time() * 1000)
    async with running_gateway(config, REGISTRY, influxdb.url, influx_database, tmp_path) as gw:
        client, why = connect(
            secured.broker.port,
            secured.login("SL-A"),
            ssl_context(secured.tls),
            client_id="dev-SL-A",
        )
        assert client is not None, why
        # another device's topic first: the broker drops it (and acks it, as MQTT 3.1.1 must)
        publish(client, topic("SL-B"), telemetry("SL-B", 0, now, 999.0))
        publish(client, topic("SL-A"), telemetry("SL-A", 0, now, 42.0))
        assert await until(lambda: gw.stats().stored >= 1, timeout_s=20)
        client.loop_stop()
        client.disconnect()
        # in order on one connection: had the forgery got through, it would have come first
        assert gw.stats().received == 1
    assert [row["power_w"] for row in stored(influxdb.url, influx_database, "SL-A")] == [42.0]
    assert stored(influxdb.url, influx_database, "SL-B") == []


async def test_a_device_under_its_own_id_elsewhere_is_dead_lettered_and_kept_off_platform_topics(
    secured: Secured, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    context = ssl_context(secured.tls)
    port = secured.broker.port
    seen: list[str] = []
    monitor, why = connect(
        port, secured.service(ServiceRole.MONITOR), context, client_id="monitor-test"
    )
    assert monitor is not None, why
    monitor.on_message = lambda c, u, message: seen.append(message.topic)
    monitor.subscribe("city/#", qos=1)
    config = replace(secured_gateway(secured), subscriptions=("city/+/+/+/telemetry",))
    now = int(time.time() * 1000)
    async with running_gateway(config, REGISTRY, influxdb.url, influx_database, tmp_path) as gw:
        device, why = connect(port, secured.login("SL-A"), context, client_id="dev-SL-A")
        assert device is not None, why
        # the ACL patterns leave district and kind free: the registry check catches those
        publish(device, "city/elsewhere/streetlight/SL-A/telemetry", telemetry("SL-A", 0, now, 1.0))
        # an alert or dead-letter lookalike under its own id never reaches their subscribers
        publish(device, "city/alerts/streetlight/SL-A/telemetry", b"{}")
        publish(device, "city/deadletter/streetlight/SL-A/telemetry", b"{}")
        assert await until(lambda: gw.stats().rejected >= 1, timeout_s=20)
        device.loop_stop()
        device.disconnect()
        assert await until(lambda: "city/deadletter/district_mismatch" in seen, timeout_s=10)
        await asyncio.sleep(0.5)  # anything else published by now has arrived too
    monitor.loop_stop()
    monitor.disconnect()
    assert gw.stats().stored == 0
    assert gw.stats().rejected_by_reason == {"district_mismatch": 1}
    # the monitor sees the gateway's dead letter, and nothing the device planted
    assert seen == ["city/deadletter/district_mismatch"]


def test_a_wrong_password_and_an_anonymous_client_are_refused(secured: Secured) -> None:
    context = ssl_context(secured.tls)
    port = secured.broker.port
    client, why = connect(port, Login("SL-A", "not-the-password"), context, client_id="dev-SL-A")
    # refused by the broker's answer to CONNECT (Mosquitto 2.0 says "not authorized"), after
    # a TLS handshake that succeeded: the password is what was refused
    refusals = {"Not authorized", "Bad user name or password"}
    assert client is None
    assert why in refusals
    client, why = connect(port, None, context, client_id="anonymous")
    assert client is None
    assert why in refusals
    # another device's password does not open this one
    other = secured.login("SL-B").password
    client, why = connect(port, Login("SL-A", other), context, client_id="dev-SL-A")
    assert client is None
    assert why in refusals


def test_a_device_receives_only_its_own_commands(secured: Secured) -> None:
    context = ssl_context(secured.tls)
    port = secured.broker.port
    received: list[str] = []
    device, why = connect(port, secured.login("SL-C"), context, client_id="dev-SL-C")
    assert device is not None, why
    device.on_message = lambda c, u, message: received.append(message.topic)
    # it asks for every device's commands; the broker delivers only its own
    device.subscribe("city/+/+/+/cmd", qos=1)
    time.sleep(0.5)
    api, why = connect(port, secured.service(ServiceRole.API), context, client_id="api-test")
    assert api is not None, why
    publish(api, topic("SL-B", Channel.CMD), b'{"command_id": "x", "action": "reboot"}')
    publish(api, topic("SL-C", Channel.CMD), b'{"command_id": "y", "action": "reboot"}')
    assert wait_for(lambda: len(received) >= 1, timeout_s=10)
    time.sleep(0.5)
    assert received == [topic("SL-C", Channel.CMD)]
    for client in (device, api):
        client.loop_stop()
        client.disconnect()


def test_tls_refuses_a_client_without_a_valid_certificate_chain(
    secured: Secured, tmp_path: Path
) -> None:
    port = secured.broker.port
    login = secured.login("SL-A")
    # with the platform's client certificate and the local CA it gets in: the rest differ
    # from this only in their certificates
    client, why = connect(port, login, ssl_context(secured.tls), client_id="dev-SL-A")
    assert client is not None, why
    client.loop_stop()
    client.disconnect()
    # no client certificate at all
    bare = BrokerTls(secured.tls.ca_path, None, None, verify=True)
    client, why = connect(port, login, ssl_context(bare), client_id="dev-SL-A")
    assert client is None, "a client without a certificate got in"
    # a certificate from another CA
    stranger = make_authority("someone else's CA", valid_days=1)
    pair = make_certificate(stranger, "intruder", server=False, valid_days=1)
    (tmp_path / "intruder.pem").write_bytes(pair.cert_pem)
    (tmp_path / "intruder.key").write_bytes(pair.key_pem)
    forged = BrokerTls(
        secured.tls.ca_path, tmp_path / "intruder.pem", tmp_path / "intruder.key", True
    )
    client, why = connect(port, login, ssl_context(forged), client_id="dev-SL-A")
    assert client is None, "a client certificate from another CA got in"
    # and the client side checks too: trusting only the system's CAs, ours is refused
    system = BrokerTls(None, secured.tls.cert_path, secured.tls.key_path, verify=True)
    client, why = connect(port, login, ssl_context(system), client_id="dev-SL-A")
    assert client is None
    assert "CERTIFICATE_VERIFY_FAILED" in why
    # plain MQTT on the TLS port gets nowhere
    client, why = connect(port, login, None, client_id="dev-SL-A")
    assert client is None


def test_rotating_a_credential_takes_effect_on_a_reload_without_a_restart(
    secured: Secured,
) -> None:
    context = ssl_context(secured.tls)
    port = secured.broker.port
    pid = secured.broker.pid
    old = secured.login("SL-B")
    rotate_credentials(secured.settings, REGISTRY, rotate=["SL-B"])
    secured.broker.reload()
    new = secured.login("SL-B")
    assert new.password != old.password

    def refused_old() -> bool:
        client, _ = connect(port, old, context, client_id="dev-SL-B", timeout_s=2)
        if client is not None:
            client.loop_stop()
            client.disconnect()
        return client is None

    assert wait_for(refused_old, timeout_s=10)
    client, why = connect(port, new, context, client_id="dev-SL-B")
    assert client is not None, why
    client.loop_stop()
    client.disconnect()
    # the other devices keep their passwords
    other, why = connect(port, secured.login("SL-A"), context, client_id="dev-SL-A")
    assert other is not None, why
    other.loop_stop()
    other.disconnect()
    assert secured.broker.pid == pid


async def test_the_simulators_publish_over_tls_with_device_and_pool_credentials(
    secured: Secured, influxdb: LocalInfluxDB, influx_database: str, tmp_path: Path
) -> None:
    config = secured_gateway(secured)
    start = datetime.now(UTC) - timedelta(minutes=10)
    run = simulators.FleetRunConfig(
        mqtt_url=secured.broker.url,
        seed=1,
        interval_s=60.0,
        speed=0.0,
        start=start,
        end=start + timedelta(minutes=5),
        scenario=None,
        connections=1,
        dedicated_max=1,  # SL-A on its own connection, SL-B and SL-C on the pooled link
        inflight_max=100,
        client_id_prefix="sim-secure",
        connect_timeout_s=10.0,
        shutdown_timeout_s=10.0,
        tls=secured.tls,
        credentials=secured.credentials(),
    )
    async with running_gateway(config, REGISTRY, influxdb.url, influx_database, tmp_path) as gw:
        stats = simulators.SimulationStats()
        await simulators.run_fleet(run, REGISTRY, stats=stats)
        assert stats.publish_errors == 0
        assert await until(lambda: gw.stats().stored >= stats.messages_published, timeout_s=30)
    for device_id in REGISTRY:
        assert len(stored(influxdb.url, influx_database, device_id)) == 5, device_id


def test_a_pooled_tls_link_writes_while_its_reader_reads_and_loses_nothing(
    secured: Secured,
) -> None:
    """The pooled link's publishing thread writes while its reader thread reads PUBACKs, on one
    TLS 1.3 connection (session tickets arrive after the handshake). Every QoS 1 message must
    be acknowledged on the one connection: a record corrupted by the two threads meeting inside
    OpenSSL makes Mosquitto drop the link, which shows here as lost messages or a reconnect."""
    pool = secured.service(ServiceRole.SIMULATOR)
    context = ssl_context(secured.tls)
    link = simulators.RawPublisher(
        "127.0.0.1",
        secured.broker.port,
        client_id="sim-secure-pool-race",
        username=pool.username,
        password=pool.password,
        tls=True,
        keepalive_s=30,
        timeout_s=10.0,
        context=context,
    )
    link.connect()
    payload = b'{"ts": 0}' * 40  # the broker acknowledges without judging the body
    chunks, per_chunk = 200, 100
    try:
        for number in range(chunks):
            device = ("SL-B", "SL-C")[number % 2]
            sent = link.publish([(topic(device), payload, 1, False)] * per_chunk)
            assert sent == per_chunk, f"chunk {number}: {link.errors} messages not written"
        assert wait_for(lambda: link.acknowledged >= chunks * per_chunk, timeout_s=30)
    finally:
        link.close()
    assert (link.acknowledged, link.lost, link.errors) == (chunks * per_chunk, 0, 0)
