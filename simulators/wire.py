"""A minimal MQTT 3.1.1 publisher on a raw socket, for the pooled (multiplexed) connections.

paho-mqtt costs ~50 µs a publish from another thread (packet objects, locks, a wake-up of its
network thread); building PUBLISH packets ourselves and writing a whole chunk with one
``sendall`` costs ~2 µs. Only what a multiplexed telemetry link needs is here: CONNECT,
PUBLISH at QoS 0 or 1, PUBACK counting, PINGREQ, DISCONNECT, and reconnecting with backoff.
Subscriptions, wills and QoS 2 stay with paho (dedicated connections, the command listener).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterable

from simulators.errors import BrokerUnreachable
from simulators.tls_link import TlsLink

__all__ = ["RawPublisher"]

log = logging.getLogger(__name__)

_CONNACK = 0x20
_PUBACK = 0x40
_PINGREQ = b"\xc0\x00"
_DISCONNECT = b"\xe0\x00"
_PACKET_ID_MAX = 65_535
_REFUSALS = {4: "bad user name or password", 5: "not authorised"}

# a TLS link is not an ssl.SSLSocket: its reader and writer threads would meet inside OpenSSL
_Link = socket.socket | TlsLink


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _string(text: bytes) -> bytes:
    return struct.pack("!H", len(text)) + text


class RawPublisher:
    """One publishing connection. ``publish`` is called from one thread; a reader thread counts
    acknowledgements, keeps the connection alive, and reconnects when it drops."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        username: str | None,
        password: str | None,
        tls: bool,
        keepalive_s: int,
        timeout_s: float,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.client_id = client_id
        self.username, self.password = username, password
        self.tls = tls
        self.context = context  # how TLS checks the broker; None: the system's defaults
        self.keepalive_s = keepalive_s
        self.timeout_s = timeout_s
        self.acknowledged = 0  # written by the reader thread only
        self.sent_qos1 = 0
        self.sent = 0
        self.lost = 0  # QoS 1 messages unacknowledged when a connection dropped
        self.errors = 0  # messages that could not be written (not connected)
        self._socket: _Link | None = None
        self._send_lock = threading.Lock()
        self._next_id = 0
        self._closed = threading.Event()
        self._connected = threading.Event()
        self._reader: threading.Thread | None = None
        self._last_send = time.monotonic()

    @property
    def outstanding(self) -> int:
        """QoS 1 messages written and not yet acknowledged on the current connection."""
        return max(0, self.sent_qos1 - self.acknowledged - self.lost)

    @property
    def connected(self) -> bool:
        """Whether the link is up right now."""
        return self._connected.is_set()

    def connect(self) -> None:
        """Connect once (raising ``BrokerUnreachable``), then keep the link up in a thread."""
        self._open()
        self._reader = threading.Thread(target=self._read_loop, name=f"mqtt-{self.client_id}")
        self._reader.daemon = True
        self._reader.start()

    def _open(self) -> None:
        where = f"mqtt://{self.host}:{self.port}"
        try:
            raw = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            sock: _Link = (
                TlsLink(raw, self.context or ssl.create_default_context(), self.host)
                if self.tls
                else raw
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(self._connect_packet())
            header = self._read_exactly(sock, 4)
        except OSError as exc:
            raise BrokerUnreachable(where, f"cannot connect: {exc}") from exc
        if header[0] != _CONNACK or header[3] != 0:
            sock.close()
            reason = _REFUSALS.get(header[3], f"CONNACK code {header[3]}")
            raise BrokerUnreachable(where, f"connection refused ({reason})")
        sock.settimeout(max(1.0, self.keepalive_s / 2))
        self._socket = sock
        self._last_send = time.monotonic()
        self._connected.set()

    def _connect_packet(self) -> bytes:
        flags = 0x02  # clean session: telemetry links keep no state across connections
        body = _string(self.client_id.encode())
        if self.username is not None:
            flags |= 0x80
            body += _string(self.username.encode())
            if self.password is not None:
                flags |= 0x40
                body += _string(self.password.encode())
        variable = _string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive_s)
        payload = variable + body
        return b"\x10" + _remaining_length(len(payload)) + payload

    @staticmethod
    def _read_exactly(sock: _Link, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            data += chunk
        return data

    def publish(self, messages: Iterable[tuple[str, bytes, int, bool]]) -> int:
        """Write messages (topic, payload, qos, retain) in one go; returns how many went out."""
        buffer = bytearray()
        count = qos1 = 0
        for topic, payload, qos, retain in messages:
            topic_bytes = topic.encode()
            if qos:
                self._next_id = self._next_id % _PACKET_ID_MAX + 1
                variable = _string(topic_bytes) + struct.pack("!H", self._next_id)
                qos1 += 1
            else:
                variable = _string(topic_bytes)
            length = len(variable) + len(payload)
            buffer.append(0x30 | (2 if qos else 0) | (1 if retain else 0))
            buffer += _remaining_length(length)
            buffer += variable
            buffer += payload
            count += 1
        if not count:
            return 0
        sock = self._socket
        if sock is None or not self._connected.is_set():
            self.errors += count
            return 0
        try:
            with self._send_lock:
                sock.settimeout(self.timeout_s)
                sock.sendall(buffer)
                sock.settimeout(max(1.0, self.keepalive_s / 2))
                self._last_send = time.monotonic()
        except OSError:
            self.errors += count
            self._drop()
            return 0
        self.sent += count
        self.sent_qos1 += qos1
        return count

    def _drop(self) -> None:
        if self._connected.is_set():
            self._connected.clear()
            self.lost += self.outstanding
            log.warning("mqtt_link_lost", extra={"client_id": self.client_id})
        sock, self._socket = self._socket, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _read_loop(self) -> None:
        backoff = 1.0
        buffer = b""
        while not self._closed.is_set():
            sock = self._socket
            if sock is None:
                if self._closed.wait(backoff):
                    return
                try:
                    self._open()
                    buffer = b""
                    backoff = 1.0
                    log.info("mqtt_link_reconnected", extra={"client_id": self.client_id})
                except BrokerUnreachable:
                    backoff = min(30.0, backoff * 2)
                continue
            try:
                chunk = sock.recv(65_536)
            except TimeoutError:
                self._ping()
                continue
            except OSError:
                chunk = b""
            if not chunk:
                if not self._closed.is_set():
                    self._drop()
                continue
            buffer = self._count_acks(buffer + chunk)
            if time.monotonic() - self._last_send > self.keepalive_s / 2:
                self._ping()

    def _count_acks(self, data: bytes) -> bytes:
        """Consume whole packets from ``data``; return the incomplete tail."""
        position = 0
        while len(data) - position >= 2:
            kind = data[position] & 0xF0
            length, shift, offset = 0, 0, position + 1
            while True:
                if offset >= len(data):
                    return data[position:]
                byte = data[offset]
                length += (byte & 0x7F) << shift
                shift += 7
                offset += 1
                if not byte & 0x80:
                    break
            end = offset + length
            if end > len(data):
                return data[position:]
            if kind == _PUBACK:
                self.acknowledged += 1
            position = end
        return data[position:]

    def _ping(self) -> None:
        sock = self._socket
        if sock is None:
            return
        try:
            with self._send_lock:
                sock.sendall(_PINGREQ)
                self._last_send = time.monotonic()
        except OSError:
            self._drop()

    def close(self) -> None:
        """Say DISCONNECT (so no will fires) and stop the reader thread."""
        self._closed.set()
        sock = self._socket
        if sock is not None:
            try:
                with self._send_lock:
                    sock.sendall(_DISCONNECT)
            except OSError:
                pass
        self._connected.clear()
        self._socket = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._reader is not None:
            self._reader.join(timeout=5)
