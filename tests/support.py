"""Helpers the tests share: reading InfluxDB back with InfluxQL, waiting for a condition, and
the receiving ends of notifications: an HTTP webhook receiver and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from smartcity.stack import free_port

__all__ = [
    "MailCatcher",
    "ReceivedMail",
    "WebhookReceiver",
    "influx_count",
    "influx_query",
    "until",
    "wait_for",
]


def influx_query(url: str, database: str, query: str) -> list[dict[str, Any]]:
    """Run InfluxQL and return the rows of every series as dicts (tags merged in)."""
    response = httpx.get(
        f"{url}/query", params={"db": database, "q": query, "epoch": "ms"}, timeout=30
    )
    response.raise_for_status()
    rows: list[dict[str, Any]] = []
    for result in response.json().get("results", []):
        if "error" in result:
            raise AssertionError(f"InfluxQL error for {query!r}: {result['error']}")
        for series in result.get("series", []):
            tags = series.get("tags", {})
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row.update(tags)
                row["_measurement"] = series["name"]
                rows.append(row)
    return rows


def influx_count(url: str, database: str, measurement: str, field: str = "seq") -> int:
    """How many points a measurement holds (counting a field every point has)."""
    rows = influx_query(url, database, f'SELECT count("{field}") FROM "{measurement}"')
    return int(rows[0]["count"]) if rows else 0


def wait_for(
    condition: Callable[[], bool], *, timeout_s: float = 30.0, interval_s: float = 0.1
) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; return whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()


async def until(
    condition: Callable[[], bool], *, timeout_s: float = 60.0, interval_s: float = 0.05
) -> bool:
    """``wait_for`` inside an event loop: poll without blocking the loop."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(interval_s)
    return condition()


class WebhookReceiver:
    """A real HTTP server on a loopback port that records every JSON body POSTed to it.

    ``stop()`` closes the port (a receiver that is down), ``start()`` opens it again on the
    same port. ``failures`` makes it answer 500 to the next that many requests.
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.bodies: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # time.time() of each body
        self.failures = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    failing = receiver.failures > 0
                    if failing:
                        receiver.failures -= 1
                    else:
                        receiver.bodies.append(json.loads(body))
                        receiver.arrivals.append(time.time())
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self, receiver: str | None = None) -> list[dict[str, Any]]:
        """Bodies so far (only those Alertmanager sent for ``receiver``, when given)."""
        with self._lock:
            return [b for b in self.bodies if receiver is None or b.get("receiver") == receiver]

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class ReceivedMail:
    """One message the SMTP server accepted: envelope recipients and the parsed message."""

    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        """The plain-text part, decoded."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        """The HTML part, decoded."""
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


@dataclass
class MailCatcher:
    """A real SMTP server (aiosmtpd) on a loopback port that keeps every message."""

    port: int = 0
    mails: list[ReceivedMail] = field(default_factory=list)
    _controller: Controller | None = None

    @property
    def smarthost(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(ReceivedMail(tuple(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self) -> MailCatcher:
        self.port = self.port or free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[ReceivedMail]:
        """Messages addressed to ``address``."""
        return [mail for mail in self.mails if address in mail.recipients]
