"""The MQTT side: paho-mqtt 2.x, MQTT 5, persistent session, manual acknowledgements.

paho runs its network loop in its own thread (``loop_start``) and reconnects by itself with
backoff. Each message goes into a bounded ``Handoff``; the asyncio side acknowledges it with
``ack`` once it is durable. A message carries the connection generation it arrived on: an ack for
an earlier connection is not sent, because after a reconnect its packet id may name another
message. The broker redelivers what we did not ack, and a redelivered point overwrites itself.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from gateway.errors import BrokerUnavailable
from gateway.handoff import Handoff

__all__ = ["Received", "Receiver"]

log = logging.getLogger(__name__)

_PUBACK = struct.Struct("!BBH")
_PUBACK_COMMAND = 0x40
# DISCONNECT with reason "normal" and no properties: the session (and its expiry) is kept
_DISCONNECT = b"\xe0\x00"
_CLOSE_TIMEOUT_S = 2.0
_SUBSCRIBE_CHUNK = 200  # topic filters per SUBSCRIBE packet
_RECONNECT_MIN_S = 1
_RECONNECT_MAX_S = 5


@dataclass(frozen=True, slots=True)
class Received:
    """One message as it came off the wire, before any validation."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool
    generation: int
    received_at: float  # wall clock, seconds since the epoch
    # who published, as the broker says in the configured user property (every value it has);
    # None when no property is configured
    publishers: tuple[str, ...] | None = None


class Receiver:
    """A paho client in its own thread feeding a ``Handoff``; acks are thread-safe."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        username: str | None,
        password: str | None,
        subscriptions: Sequence[str],
        receive_max: int,
        session_expiry_s: int,
        keepalive_s: int,
        handoff: Handoff[Received],
        tls: ssl.SSLContext | None = None,
        publisher_property: str | None = None,
    ) -> None:
        self._host = host
        self._publisher_property = publisher_property
        self._port = port
        self._subscriptions = list(subscriptions)
        self._receive_max = receive_max
        self._session_expiry_s = session_expiry_s
        self._keepalive_s = keepalive_s
        self._handoff = handoff
        self._generation = 0
        self._state_lock = threading.Lock()
        self._connected = threading.Event()
        self._refused: str | None = None
        self.connects = 0
        self.disconnects = 0
        self.acks_skipped = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set_context(tls)
        self._client.reconnect_delay_set(_RECONNECT_MIN_S, _RECONNECT_MAX_S)
        # our own publishes (dead letters) are QoS 0, so paho's outgoing window does not matter
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        """Whether the client is connected right now."""
        return self._connected.is_set()

    def start(self, timeout_s: float) -> None:
        """Connect and start the network thread; raise ``BrokerUnavailable`` if it fails."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._session_expiry_s
        properties.ReceiveMaximum = self._receive_max
        try:
            self._client.connect(
                self._host,
                self._port,
                keepalive=self._keepalive_s,
                clean_start=False,
                properties=properties,
            )
        except OSError as exc:
            raise BrokerUnavailable(self._host, self._port, str(exc)) from exc
        self._client.loop_start()
        deadline = time.monotonic() + timeout_s
        while not self._connected.wait(0.05):
            if self._refused is not None:
                self.stop()
                raise BrokerUnavailable(self._host, self._port, self._refused)
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerUnavailable(self._host, self._port, "no CONNACK in time")

    def stop(self) -> None:
        """Disconnect once the acks already queued have reached the broker; stop the thread.

        A socket closed while incoming data sits unread in it (the broker keeps sending up to
        the Receive Maximum) makes the kernel answer with RST instead of FIN, and a broker that
        gets RST drops what it had not read yet: our last PUBACKs, whose messages it would then
        redeliver. So the close is graceful: paho's thread writes out every queued packet
        before it ends, then we send DISCONNECT, half-close, and read until the broker closes.
        """
        self._handoff.close()
        if not self._connected.is_set():
            self._client.disconnect()
            self._client.loop_stop()
            return
        self._client.loop_stop()  # returns once paho's outgoing queue (the PUBACKs) is written
        sock = self._client.socket()
        self._connected.clear()
        if not isinstance(sock, socket.socket):
            return
        try:
            sock.settimeout(_CLOSE_TIMEOUT_S)
            sock.sendall(_DISCONNECT)
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + _CLOSE_TIMEOUT_S
            while time.monotonic() < deadline and sock.recv(65536):
                pass  # what the broker still sends is redelivered next time: not acked
        except OSError:
            pass  # the broker went first; what it read of our acks it keeps
        finally:
            sock.close()
            log.info("broker_disconnected_cleanly", extra={"host": self._host})

    def ack(self, mid: int, qos: int, generation: int) -> bool:
        """Acknowledge a QoS 1/2 message of this connection; ``False`` if it was not sent."""
        if qos == 0:
            return True
        with self._state_lock:
            if generation != self._generation or not self._connected.is_set():
                self.acks_skipped += 1
                return False
            return self._client.ack(mid, qos) == MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, messages: Sequence[Received]) -> int:
        """Acknowledge a batch at once; how many acks were queued (the rest are redelivered).

        paho's ``ack`` queues one PUBACK and wakes its thread with a syscall per message; from
        another thread each syscall hands the GIL over and waits to get it back, which cost more
        than storing the message. So QoS 1 acks of a batch go out as one write: the same PUBACK
        packets paho would send (``0x40 0x02 mid``), concatenated, queued once. The lock keeps a
        reconnect from slipping between the generation check and the queueing: paho clears its
        outgoing packets on reconnect, after ``on_disconnect``, which takes the same lock.
        """
        blob = bytearray()
        sent = 0
        with self._state_lock:
            current = self._generation if self._connected.is_set() else -1
            for message in messages:
                if message.qos == 0:
                    sent += 1
                elif message.generation != current:
                    self.acks_skipped += 1
                elif message.qos == 1:
                    blob += _PUBACK.pack(_PUBACK_COMMAND, 2, message.mid)
                    sent += 1
                elif self._client.ack(message.mid, message.qos) == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    sent += 1
            if blob:
                self._client._packet_queue(_PUBACK_COMMAND, bytes(blob), 0, 1)
        return sent

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 0 (dead letters); dropped while disconnected, counted by the caller."""
        self._client.publish(topic, payload, qos=0)

    # -- paho callbacks, on the network thread ----------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            log.error("broker_refused", extra={"reason": str(reason)})
            return
        with self._state_lock:
            self._generation += 1
        self.connects += 1
        log.info(
            "broker_connected",
            extra={"session_present": flags.session_present, "generation": self._generation},
        )
        # Subscribe on every connect (the configuration may have changed since the session was
        # made), but let the broker replay retained status only for a subscription that is new.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        for start in range(0, len(self._subscriptions), _SUBSCRIBE_CHUNK):
            chunk = self._subscriptions[start : start + _SUBSCRIBE_CHUNK]
            client.subscribe([(topic, options) for topic in chunk])
        self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._state_lock:
            self._connected.clear()
        self.disconnects += 1
        log.warning("broker_disconnected", extra={"reason": str(reason)})

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            # the broker should refuse such topics; if one gets through it is dead-lettered
            topic = message._topic.decode("utf-8", "backslashreplace")
        self._handoff.put(
            Received(
                topic,
                bytes(message.payload),
                message.qos,
                message.mid,
                message.retain,
                self._generation,
                time.time(),
                self._publisher(message) if self._publisher_property else None,
            )
        )

    def _publisher(self, message: mqtt.MQTTMessage) -> tuple[str, ...]:
        """Every value of the configured MQTT 5 user property (a property may repeat)."""
        properties = getattr(message, "properties", None)
        pairs = getattr(properties, "UserProperty", None) or ()
        return tuple(str(value) for name, value in pairs if name == self._publisher_property)
