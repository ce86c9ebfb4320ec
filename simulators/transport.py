"""MQTT transport: many simulated devices over a few paho connections.

One connection per device is impossible at 100,000 devices in one process, so telemetry is
multiplexed: the first ``dedicated_max`` devices get a connection of their own whose last-will
is their ``{"online": false}`` status (true per-device presence, as in the field); every other
device shares one of ``connections`` pooled connections, and its presence is explicit — online
at start, offline on a clean stop or a simulated drop-out. If the simulator process dies, only
the dedicated devices' wills fire; the pooled devices' retained status stays ``online`` until the
gateway notices their silence. The topic always names the device, so the gateway cannot tell.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulators.engine import Outgoing
from simulators.errors import BrokerUnreachable

__all__ = ["BrokerAddress", "ConnectionPool", "parse_mqtt_url"]

log = logging.getLogger(__name__)

_PAHO_INFLIGHT = 1_000  # our own window; the broker still enforces its own limits


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and who we are to it."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]`` (``mqtts://`` for TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp"):
        raise BrokerUnreachable(url, "the URL must start with mqtt://, mqtts:// or tcp://")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


class ConnectionPool:
    """Dedicated connections (with per-device wills) plus pooled ones, each with its own thread.

    ``publish`` is thread-safe (paho's) and never blocks; ``outstanding`` tells the caller how
    many messages are written but not yet acknowledged (QoS 1) or not yet sent (QoS 0), so it
    can wait before publishing more: that keeps memory bounded when the broker is the limit.
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
    ) -> None:
        self.url = url
        self.address = parse_mqtt_url(url)
        self.connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self.published = 0
        self.errors = 0
        self.disconnects = 0
        self._connected: set[int] = set()
        self._on_command = on_command
        self._command_filter = command_filter
        self.dedicated: list[mqtt.Client] = []
        for number, (topic, payload) in enumerate(wills):
            client = self._client(f"{client_id_prefix}-d{number}", len(self.dedicated))
            client.will_set(topic, payload, qos=1, retain=True)
            self.dedicated.append(client)
        self.pooled = [
            self._client(f"{client_id_prefix}-p{number}", len(self.dedicated) + number)
            for number in range(max(1, connections))
        ]
        # one counter per connection, each written only by that connection's network thread
        self._completed = [0] * len(self.all_clients)

    @property
    def outstanding(self) -> int:
        """Published but not yet acknowledged (QoS 1) or written (QoS 0)."""
        return self.published - sum(self._completed)

    @property
    def all_clients(self) -> list[mqtt.Client]:
        """Every connection, dedicated first."""
        return self.dedicated + self.pooled

    def _client(self, client_id: str, number: int) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
            userdata=number,
        )
        client.max_inflight_messages_set(_PAHO_INFLIGHT)
        client.reconnect_delay_set(1, 30)
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.on_connect = self._connected_cb
        client.on_disconnect = self._disconnected_cb
        client.on_publish = self._published_cb
        return client

    def _connected_cb(
        self, client: mqtt.Client, number: object, flags: object, reason: object, properties: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("mqtt_connect_refused", extra={"reason": str(reason)})
            return
        with self._lock:
            self._connected.add(int(number))  # type: ignore[call-overload]
        if self._on_command is not None and client is self.pooled[0] and self._command_filter:
            client.on_message = self._message_cb
            client.subscribe(self._command_filter, qos=1)

    def _disconnected_cb(
        self, client: mqtt.Client, number: object, flags: object, reason: object, properties: object
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
        """Connect every client and start its network thread; wait until all are up."""
        for client in self.all_clients:
            client.connect_async(self.address.host, self.address.port, keepalive=30)
            client.loop_start()
        deadline = time.monotonic() + self.connect_timeout_s
        total = len(self.all_clients)
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._connected) == total:
                    return
            time.sleep(0.02)
        self.close(0.0)
        raise BrokerUnreachable(
            self.url,
            f"{len(self._connected)} of {total} connections up after {self.connect_timeout_s:g} s",
        )

    def client_for(self, device: int) -> mqtt.Client:
        """The connection a device speaks through."""
        if device < len(self.dedicated):
            return self.dedicated[device]
        return self.pooled[device % len(self.pooled)]

    def publish(self, messages: Iterable[Outgoing]) -> int:
        """Hand messages to their connections; returns how many were accepted."""
        accepted = 0
        for message in messages:
            info = self.client_for(message.device).publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                accepted += 1
            else:
                self.errors += 1
        self.published += accepted
        return accepted

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything published is acknowledged, at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.outstanding > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.outstanding <= 0

    def close(self, timeout_s: float) -> None:
        """Flush, disconnect cleanly (a clean disconnect does not fire wills), stop threads."""
        self.flush(timeout_s)
        for client in self.all_clients:
            client.disconnect()
        for client in self.all_clients:
            client.loop_stop()
