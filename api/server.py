"""Serve the app with uvicorn inside the platform's TaskGroup, and stop it gracefully.

uvicorn's ``Server.serve`` would take SIGINT and SIGTERM for itself; the platform owns the
signals and stops its tasks by cancelling them, so the embedded server leaves signals alone and
stops when its task is cancelled: it stops accepting, lets requests in progress finish (for at
most ``shutdown_timeout_s``), then returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from api.errors import ListenFailed

__all__ = ["ApiServer"]

log = logging.getLogger(__name__)


class _Embedded(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the platform owns the signals


class ApiServer:
    """``bind()`` (the port is known after it; 0 picks a free one), then ``await run()``.

    With ``tls_cert`` and ``tls_key`` (PEM files) it serves HTTPS only.
    """

    def __init__(
        self,
        app: FastAPI,
        *,
        host: str,
        port: int,
        shutdown_timeout_s: float,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        self._app = app
        self._tls_cert = tls_cert
        self._tls_key = tls_key
        self.host = host
        self._port = port
        self._shutdown_timeout_s = shutdown_timeout_s
        self._socket: socket.socket | None = None
        self.started = asyncio.Event()

    @property
    def port(self) -> int:
        """The port it listens on (after ``bind``)."""
        return self._port

    @property
    def url(self) -> str:
        """Where it answers, e.g. ``http://127.0.0.1:8000`` (``https`` with a certificate)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self._tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    def bind(self) -> None:
        """Take the port now, so a taken port fails the start with a clear error."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._port))
        except OSError as exc:
            sock.close()
            raise ListenFailed(self.host, self._port, exc.strerror or str(exc)) from exc
        sock.listen(128)
        sock.setblocking(False)
        self._socket = sock
        self._port = int(sock.getsockname()[1])

    async def run(self) -> None:
        """Serve until cancelled; then finish the requests in progress and close."""
        if self._socket is None:
            self.bind()
        assert self._socket is not None
        config = uvicorn.Config(
            self._app,
            log_config=None,  # our JSON logging, set once in the front door
            access_log=False,  # requests are logged by the app, with their request id
            lifespan="off",  # the app's dependencies live outside it
            timeout_graceful_shutdown=math.ceil(self._shutdown_timeout_s),
            server_header=False,
            ssl_certfile=self._tls_cert,
            ssl_keyfile=self._tls_key,
        )
        server = _Embedded(config)
        serving = asyncio.ensure_future(server.serve(sockets=[self._socket]))
        log.info("api_listening", extra={"url": self.url})
        try:
            while not server.started and not serving.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            self.started.set()
            await asyncio.shield(serving)
        finally:
            # open event streams (the page's /events) see this and end, so that stopping does
            # not wait out the grace period for them
            self._app.state.stopping = True
            server.should_exit = True
            try:
                async with asyncio.timeout(self._shutdown_timeout_s + 1):
                    await serving
            except TimeoutError:
                server.force_exit = True
                log.warning("api_stop_forced", extra={"url": self.url})
            finally:
                self._socket.close()
                log.info("api_stopped", extra={"url": self.url})
