"""The MQTT side: paho-mqtt 2.x, MQTT 5, persistent session, manual acknowledgements.

paho's socket is driven from the asyncio loop, as aiomqtt does (``add_reader`` /
``add_writer`` from paho's socket callbacks), with no network thread: a readable socket is read
message after message into a bounded ``Handoff`` until it would block, and reading pauses while
the hand-off is full (the broker holds the rest, up to the Receive Maximum). The asyncio side
acknowledges a message with paho's public ``ack`` once it is durable. ``run`` keeps the
connection alive (paho's ``loop_misc``) and reconnects with backoff.

A message carries the connection generation it arrived on: an ack for an earlier connection is
not sent, because after a reconnect its packet id may name another message. The broker
redelivers what we did not ack, and a redelivered point overwrites itself.

Only paho's public API is used (``loop_read``, ``loop_write``, ``loop_misc``, ``ack``,
``socket``, ``want_write``, the ``on_socket_*`` callbacks), so any paho-mqtt 2.x will do.

Long because: connecting, subscribing (ready only once the broker granted it), reading with
back-pressure, acknowledging and stopping without losing the last acks share one connection's
state; split, each part would reach into the others.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
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

__all__ = ["UNDECODABLE_TOPIC", "Received", "Receiver"]

log = logging.getLogger(__name__)

UNDECODABLE_TOPIC = "(topic is not UTF-8)"
"""The topic a message is given when its topic is not UTF-8; validation dead-letters it."""

# DISCONNECT with reason "normal" and no properties: the session (and its expiry) is kept
_DISCONNECT = b"\xe0\x00"
_CLOSE_TIMEOUT_S = 2.0
_FLUSH_TIMEOUT_S = 2.0
_SUBSCRIBE_CHUNK = 200  # topic filters per SUBSCRIBE packet
_RECONNECT_MIN_S = 1.0
_RECONNECT_MAX_S = 5.0
_MISC_INTERVAL_S = 1.0  # keepalive checks; paho's own loop does them once a second too
# messages read per readable event before the loop runs other tasks (validation, writes, acks)
_READ_BURST = 500
_OK = MQTTErrorCode.MQTT_ERR_SUCCESS


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
    """A paho client driven by the running asyncio loop, feeding a ``Handoff``.

    ``await start()`` connects; run ``run()`` as a task for keepalive and reconnection;
    ``await stop()`` flushes the acks and disconnects. Every method is for the loop's thread.
    """

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
        handoff.on_room = self._resume_reading
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._generation = 0
        self._connected = asyncio.Event()
        # set once the broker has granted every subscription of a new session (SUBACK): a
        # message published before that may find no subscription and be dropped
        self._subscribed = asyncio.Event()
        self._subscribes_pending: set[int] = set()
        self._refused: str | None = None
        self._sock: Any = None  # paho's socket while it is open
        self._reading = False
        self._stopping = False
        self._read = 0  # messages read so far, to tell a read that found one
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
        # our own publishes (dead letters) are QoS 0, so paho's outgoing window does not matter
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_socket_open = self._on_socket_open
        self._client.on_socket_close = self._on_socket_close
        self._client.on_socket_register_write = self._on_socket_register_write
        self._client.on_socket_unregister_write = self._on_socket_unregister_write

    @property
    def connected(self) -> bool:
        """Whether the client is connected right now."""
        return self._connected.is_set()

    async def start(self, timeout_s: float) -> None:
        """Connect and subscribe; raise ``BrokerUnavailable`` if that fails in time."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._session_expiry_s
        properties.ReceiveMaximum = self._receive_max
        try:
            # connect() blocks on the TCP handshake, so it runs in a worker thread (so do
            # paho's socket callbacks it calls; they hand over to the loop)
            await asyncio.to_thread(
                self._client.connect,
                self._host,
                self._port,
                keepalive=self._keepalive_s,
                clean_start=False,
                properties=properties,
            )
        except OSError as exc:
            raise BrokerUnavailable(self._host, self._port, str(exc)) from exc
        deadline = time.monotonic() + timeout_s
        while not self._connected.is_set():
            if self._refused is not None:
                await self.stop()
                raise BrokerUnavailable(self._host, self._port, self._refused)
            if time.monotonic() > deadline:
                await self.stop()
                raise BrokerUnavailable(self._host, self._port, "no CONNACK in time")
            try:
                async with asyncio.timeout(0.05):
                    await self._connected.wait()
            except TimeoutError:
                pass
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                await self._subscribed.wait()
        except TimeoutError:
            await self.stop()
            raise BrokerUnavailable(self._host, self._port, "no SUBACK in time") from None

    async def run(self) -> None:
        """Keep the connection alive and reconnect with backoff, until cancelled."""
        delay = _RECONNECT_MIN_S
        while True:
            await asyncio.sleep(_MISC_INTERVAL_S)
            if self._stopping:
                return
            if self._client.socket() is not None:
                self._client.loop_misc()  # PINGREQ when due; a silent broker is a lost one
                delay = _RECONNECT_MIN_S
                continue
            try:
                await asyncio.to_thread(self._client.reconnect)
            except OSError as exc:
                log.warning("broker_reconnect_failed", extra={"error": str(exc), "retry_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_MAX_S)

    async def stop(self) -> None:
        """Disconnect once the acks already queued have reached the broker.

        A socket closed while incoming data sits unread in it (the broker keeps sending up to
        the Receive Maximum) makes the kernel answer with RST instead of FIN, and a broker that
        gets RST drops what it had not read yet: our last PUBACKs, whose messages it would then
        redeliver. So the close is graceful: every queued packet is written first, then we send
        DISCONNECT, half-close, and read until the broker closes.
        """
        self._stopping = True
        self._handoff.close()
        deadline = time.monotonic() + _FLUSH_TIMEOUT_S
        while self._connected.is_set() and self._client.want_write():
            if time.monotonic() > deadline:
                log.warning("acks_not_flushed", extra={"host": self._host})
                break
            await asyncio.sleep(0.005)  # the writer callback writes them out
        sock = self._sock
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._detach()
        if sock is None:
            return
        if not was_connected or not isinstance(sock, socket.socket):
            self._client.disconnect()
            return
        await asyncio.to_thread(self._close_gracefully, sock)

    def _close_gracefully(self, sock: socket.socket) -> None:
        try:
            sock.setblocking(True)
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

    def ack_many(self, messages: Sequence[Received]) -> int:
        """Acknowledge a batch; how many acks were queued (the rest are redelivered).

        An ack is only queued here; the loop writes it when the socket is writable, so the
        acks of a batch leave together.
        """
        current = self._generation if self._connected.is_set() else -1
        ack = self._client.ack
        sent = 0
        for message in messages:
            if message.qos == 0:
                sent += 1
            elif message.generation != current:
                self.acks_skipped += 1
            elif ack(message.mid, message.qos) == _OK:
                sent += 1
        return sent

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 0 (dead letters); dropped while disconnected, counted by the caller."""
        self._client.publish(topic, payload, qos=0)

    # -- the socket on the loop -------------------------------------------------------------
    def _readable(self) -> None:
        """Read what the socket holds, message after message, up to a burst."""
        client = self._client
        handoff = self._handoff
        for _ in range(_READ_BURST):
            before = self._read
            # paho reads one packet per call; it reports a lost connection to on_disconnect
            if client.loop_read() != _OK or self._read == before:
                return  # lost, or the socket holds no whole message now, or a non-message
            if handoff.full or handoff.closed:
                self._pause_reading()
                return

    def _writable(self) -> None:
        self._client.loop_write()

    def _pause_reading(self) -> None:
        if self._reading and self._sock is not None:
            self._loop.remove_reader(self._sock)
        self._reading = False

    def _resume_reading(self) -> None:
        if not self._reading and self._sock is not None and not self._handoff.closed:
            self._loop.add_reader(self._sock, self._readable)
            self._reading = True

    def _detach(self) -> None:
        """Stop watching the socket (it is closing, or we are)."""
        if self._sock is not None:
            self._pause_reading()
            self._loop.remove_writer(self._sock)
            self._sock = None

    def _on_loop(self, callback: Any, *args: Any) -> None:
        """Run on the loop's thread: now if this is it, else as soon as the loop can."""
        if threading.get_ident() == self._loop_thread:
            callback(*args)
        elif not self._loop.is_closed():  # paho's finaliser may close the socket late
            self._loop.call_soon_threadsafe(callback, *args)

    def _open(self, sock: Any) -> None:
        self._sock = sock
        self._resume_reading()

    def _close(self, sock: Any) -> None:
        if sock is self._sock:
            self._detach()

    def _watch_write(self, sock: Any) -> None:
        if sock is self._sock:
            self._loop.add_writer(sock, self._writable)

    def _unwatch_write(self, sock: Any) -> None:
        if sock is self._sock:
            self._loop.remove_writer(sock)

    # -- paho callbacks: on the loop's thread, or in connect()'s worker thread --------------
    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._open, sock)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # paho closes the socket right after this returns: stop watching it first
        self._on_loop(self._close, sock)

    def _on_socket_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._watch_write, sock)

    def _on_socket_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._unwatch_write, sock)

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
        self._generation += 1
        self.connects += 1
        log.info(
            "broker_connected",
            extra={"session_present": flags.session_present, "generation": self._generation},
        )
        # Subscribe on every connect (the configuration may have changed since the session was
        # made), but let the broker replay retained status only for a subscription that is new.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        self._subscribed.clear()
        pending: set[int] = set()
        for start in range(0, len(self._subscriptions), _SUBSCRIBE_CHUNK):
            chunk = self._subscriptions[start : start + _SUBSCRIBE_CHUNK]
            _, mid = client.subscribe([(topic, options) for topic in chunk])
            if mid is not None:
                pending.add(mid)
        self._subscribes_pending = pending
        # A session the broker kept has its subscriptions already, and queues for them: nothing
        # is lost before the SUBACK, which may also sit behind a backlog that waits for the
        # hand-off to drain. Only a new session must wait for it.
        if flags.session_present or not pending:
            self._subscribed.set()
        self._connected.set()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("subscription_refused", extra={"reasons": refused})
        self._subscribes_pending.discard(mid)
        if not self._subscribes_pending:
            self._subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        self.disconnects += 1
        log.warning("broker_disconnected", extra={"reason": str(reason)})

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._read += 1
        try:
            topic = message.topic
        except UnicodeDecodeError:
            # the broker should refuse such topics; if one gets through it is dead-lettered
            topic = UNDECODABLE_TOPIC
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
