"""TLS over a plain socket through memory BIOs, so one thread may read while another writes.

A pooled link (``simulators.wire``) writes from the publishing thread while its reader thread
blocks in ``recv``. On an ``ssl.SSLSocket`` that is two threads inside one OpenSSL connection at
once, which OpenSSL does not allow (CPython releases the GIL around ``SSL_read`` and ``SSL_write``
and holds no lock of its own); Mosquitto once dropped such a link as "out of memory", which is
what a corrupted record looks like from its side. Here the TLS state (an ``ssl.SSLObject``) is
only touched under a lock, socket I/O happens outside it, and a second lock keeps the records on
the wire in the order they were made (a TLS record out of order fails its MAC).
"""

from __future__ import annotations

import socket
import ssl
import threading

__all__ = ["TlsLink"]

_CHUNK = 65_536


class TlsLink:
    """A client TLS connection on ``raw`` with the socket calls the publisher uses."""

    def __init__(self, raw: socket.socket, context: ssl.SSLContext, server_hostname: str) -> None:
        self._raw = raw
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=server_hostname
        )
        self._state = threading.Lock()  # the SSLObject and both BIOs
        self._wire = threading.Lock()  # held from making records to having written them
        self._handshake()

    def _handshake(self) -> None:
        while True:
            try:
                with self._state:
                    self._tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                self._receive()

    def _receive(self) -> None:
        """Read what the socket has into the TLS state; EOF raises ``ConnectionError``."""
        data = self._raw.recv(_CHUNK)
        with self._state:
            if not data:
                self._incoming.write_eof()
            else:
                self._incoming.write(data)
        if not data:
            raise ConnectionError("broker closed the connection")

    def _flush(self) -> None:
        with self._wire:
            with self._state:
                out = self._outgoing.read()
            if out:
                self._raw.sendall(out)

    def sendall(self, data: bytes | bytearray) -> None:
        """Encrypt and write all of ``data``; records leave in the order they were made."""
        with self._wire:
            with self._state:
                self._tls.write(data)
                out = self._outgoing.read()
            self._raw.sendall(out)

    def recv(self, size: int) -> bytes:
        """Up to ``size`` plaintext bytes; ``b""`` when the broker closed the connection."""
        while True:
            with self._state:
                try:
                    return self._tls.read(size)
                except ssl.SSLWantReadError:
                    pending = self._outgoing.pending
                except ssl.SSLZeroReturnError:
                    return b""
            if pending:  # the TLS layer has something to say (a key update's answer)
                self._flush()
            try:
                self._receive()
            except ConnectionError:
                return b""

    def settimeout(self, timeout_s: float | None) -> None:
        self._raw.settimeout(timeout_s)

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self._raw.setsockopt(level, option, value)

    def shutdown(self, how: int) -> None:
        self._raw.shutdown(how)

    def close(self) -> None:
        self._raw.close()
