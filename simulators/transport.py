"""MQTT transport: many simulated devices over a few connections.

One connection per device is impossible at 100,000 devices in one process, so telemetry is
multiplexed: the first ``dedicated_max`` devices get a paho connection of their own whose
last-will is their ``{"online": false}`` status (true per-device presence, as in the field);
every other device shares one of ``connections`` pooled links (``wire.RawPublisher``, a lean
publisher), and its presence is explicit — online at start, offline on a clean stop or a
simulated drop-out. If the simulator process dies, only the dedicated devices' wills fire; the
pooled devices' retained status stays ``online`` until the gateway notices their silence. The
topic always names the device, so the gateway cannot tell which way a device is connected.

Secured (``credentials`` given), a dedicated connection logs in as its device, with the client
id ``dev-{device_id}``; the pooled links and the command listener log in as
``platform.simulator``, the one user the broker lets speak for many devices. With ``tls`` every
connection checks the broker's certificate (and shows the client certificate, if any).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices import (
    BrokerAddress,
    BrokerTls,
    BrokerUrlInvalid,
    Credentials,
    Login,
    ServiceRole,
    TopicInvalid,
    device_client_id,
    parse_broker_url,
    parse_topic,
    shown_url,
    ssl_context,
)
from simulators.engine import Outgoing
from simulators.errors import BrokerUnreachable
from simulators.wire import RawPublisher

__all__ = ["BrokerAddress", "ConnectionPool", "parse_mqtt_url"]

log = logging.getLogger(__name__)

_PAHO_INFLIGHT = 1_000  # our own window; the broker still enforces its own limits


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]``; a bad URL is a broker we cannot reach."""
    try:
        return parse_broker_url(url)
    except BrokerUrlInvalid as exc:
        raise BrokerUnreachable(exc.url, exc.reason) from exc


class ConnectionPool:
    """Dedicated paho connections (with per-device wills) plus raw pooled publishing links.

    ``publish`` is called from one thread and never blocks for long; ``outstanding`` tells the
    caller how many QoS 1 messages are written but not yet acknowledged, so it can wait before
    publishing more: that keeps memory bounded when the broker is the limit. Commands arrive
    through one more paho connection that only subscribes.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id_prefix: str,
        connections: int,
        wills: Iterable[tuple[str, bytes]],
        connect_timeout_s: float,
        on_command: Callable[[str, bytes], None] | None = None,
        command_filter: str | None = None,
        tls: BrokerTls | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.url = shown_url(url)  # for messages: a password in the URL is never shown
        self.address = parse_mqtt_url(url)
        self._tls = tls
        self._credentials = credentials
        shared = self._shared_login()
        self.connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._paho_published = 0
        self.disconnects = 0
        self._connected: set[int] = set()
        self._on_command = on_command
        self._command_filter = command_filter
        self.dedicated: list[mqtt.Client] = []
        for number, (topic, payload) in enumerate(wills):
            device_login = self._device_login(topic)
            if device_login is not None:
                client_id = device_client_id(device_login.username)
            else:
                client_id = f"{client_id_prefix}-d{number}"
            client = self._client(client_id, number, device_login or shared)
            client.will_set(topic, payload, qos=1, retain=True)
            self.dedicated.append(client)
        self.control: mqtt.Client | None = None
        if on_command is not None and command_filter is not None:
            self.control = self._client(f"{client_id_prefix}-cmd", len(self.dedicated), shared)
        # one counter per paho connection, each written only by that connection's thread
        self._completed = [0] * len(self._paho_clients)
        self._paho_errors = 0
        self.links = [
            RawPublisher(
                self.address.host,
                self.address.port,
                client_id=f"{client_id_prefix}-p{number}",
                username=shared.username if shared else None,
                password=shared.password if shared else None,
                tls=self.address.tls,
                context=self._context(),  # TLS state is guarded: see simulators.tls_link
                keepalive_s=30,
                timeout_s=connect_timeout_s,
            )
            for number in range(max(1, connections))
        ]

    @property
    def _paho_clients(self) -> list[mqtt.Client]:
        return self.dedicated + ([self.control] if self.control is not None else [])

    @property
    def published(self) -> int:
        """Messages handed to the broker connections."""
        return self._paho_published + sum(link.sent for link in self.links)

    @property
    def errors(self) -> int:
        """Messages that could not be handed over (a connection was down)."""
        return self._paho_errors + sum(link.errors for link in self.links)

    @property
    def lost(self) -> int:
        """QoS 1 messages written but unacknowledged when their link dropped."""
        return sum(link.lost for link in self.links)

    @property
    def outstanding(self) -> int:
        """Published but not yet acknowledged (QoS 1) or written (paho, QoS 0)."""
        paho = self._paho_published - sum(self._completed)
        return paho + sum(link.outstanding for link in self.links)

    def _shared_login(self) -> Login | None:
        """Pooled links and the command listener: the URL's user, else ``platform.simulator``."""
        if self.address.username is not None:
            return Login(self.address.username, self.address.password or "")
        if self._credentials is not None:
            return self._credentials.service_login(ServiceRole.SIMULATOR)
        return None

    def _device_login(self, will_topic: str) -> Login | None:
        """A dedicated connection's own login: the device of its will's topic."""
        if self._credentials is None:
            return None
        try:
            device_id = parse_topic(will_topic).device_id
        except TopicInvalid:
            return None
        return self._credentials.device_login(device_id)

    def _context(self) -> ssl.SSLContext | None:
        if not self.address.tls:
            return None
        return ssl_context(self._tls or BrokerTls(None, None, None, verify=True))

    def _client(self, client_id: str, number: int, login: Login | None) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
            userdata=number,
        )
        client.max_inflight_messages_set(_PAHO_INFLIGHT)
        client.reconnect_delay_set(1, 30)
        if login is not None:
            client.username_pw_set(login.username, login.password)
        context = self._context()
        if context is not None:
            client.tls_set_context(context)
        client.on_connect = self._connected_cb
        client.on_disconnect = self._disconnected_cb
        client.on_publish = self._published_cb
        return client

    def _connected_cb(
        self,
        client: mqtt.Client,
        number: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("mqtt_connect_refused", extra={"reason": str(reason)})
            return
        with self._lock:
            self._connected.add(int(number))  # type: ignore[call-overload]
        if client is self.control and self._command_filter:
            client.on_message = self._message_cb
            client.subscribe(self._command_filter, qos=1)

    def _disconnected_cb(
        self,
        client: mqtt.Client,
        number: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        with self._lock:
            self._connected.discard(int(number))  # type: ignore[call-overload]
            self.disconnects += 1
        log.info("mqtt_disconnected", extra={"connection": number, "reason": str(reason)})

    def _published_cb(
        self, client: mqtt.Client, number: object, mid: int, reason: object, properties: object
    ) -> None:
        self._completed[int(number)] += 1  # type: ignore[call-overload]

    def _message_cb(self, client: mqtt.Client, number: object, message: mqtt.MQTTMessage) -> None:
        if self._on_command is not None:
            self._on_command(message.topic, bytes(message.payload))

    def connect(self) -> None:
        """Connect every link and client; wait until all are up or raise ``BrokerUnreachable``."""
        try:
            for link in self.links:
                link.connect()
        except BrokerUnreachable:
            self.close(0.0)
            raise
        for client in self._paho_clients:
            client.connect_async(self.address.host, self.address.port, keepalive=30)
            client.loop_start()
        deadline = time.monotonic() + self.connect_timeout_s
        total = len(self._paho_clients)
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._connected) == total:
                    return
            time.sleep(0.02)
        up = len(self._connected)
        self.close(0.0)
        raise BrokerUnreachable(
            self.url, f"{up} of {total} connections up after {self.connect_timeout_s:g} s"
        )

    def publish(self, messages: Iterable[Outgoing]) -> int:
        """Hand messages to their connections; returns how many were accepted."""
        dedicated = len(self.dedicated)
        batches: list[list[tuple[str, bytes, int, bool]]] = [[] for _ in self.links]
        accepted = 0
        for message in messages:
            if message.device < dedicated:
                info = self.dedicated[message.device].publish(
                    message.topic, message.payload, qos=message.qos, retain=message.retain
                )
                if info.rc == mqtt.MQTT_ERR_SUCCESS:
                    accepted += 1
                    self._paho_published += 1
                else:
                    self._paho_errors += 1
            else:
                batches[message.device % len(self.links)].append(
                    (message.topic, message.payload, message.qos, message.retain)
                )
        for link, batch in zip(self.links, batches, strict=True):
            if batch:
                accepted += link.publish(batch)
        return accepted

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything published is acknowledged, at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.outstanding > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.outstanding <= 0

    def close(self, timeout_s: float) -> None:
        """Flush, disconnect cleanly (a clean disconnect fires no will), stop threads."""
        self.flush(timeout_s)
        for client in self._paho_clients:
            client.disconnect()
        for client in self._paho_clients:
            client.loop_stop()
        for link in self.links:
            link.close()
