"""``InfluxV2Writer``: ``/api/v2/write`` (InfluxDB 2.x/3.x, or anything that speaks it) through
influxdb-client's synchronous write API, run in worker threads.

influxdb-client's own async client needs aiohttp, which the platform does not ship; its
synchronous client in ``asyncio.to_thread`` gives the same concurrency (a semaphore bounds the
threads in use to ``max_in_flight``) with its urllib3 connection pool.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any

import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from ingest.config import InfluxV2Config
from ingest.errors import WriteFailed
from ingest.influx_v1 import classify_status, find_bad_lines

__all__ = ["InfluxV2Writer"]

log = logging.getLogger(__name__)


class InfluxV2Writer:
    """Writes line protocol to ``/api/v2/write`` (token, org, bucket), up to ``max_in_flight``
    requests at once; failures are classified as ``InfluxV1Writer`` classifies them."""

    def __init__(self, config: InfluxV2Config) -> None:
        self.config = config
        self._client: Any = InfluxDBClient(
            url=config.url,
            token=config.token or "",
            org=config.org,
            timeout=int(config.timeout_s * 1000),
            enable_gzip=config.gzip,
            connection_pool_maxsize=config.max_in_flight,
        )
        self._write_api: Any = self._client.write_api(write_options=SYNCHRONOUS)
        self._slots = asyncio.Semaphore(config.max_in_flight)

    async def __aenter__(self) -> InfluxV2Writer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and its connection pool."""
        await asyncio.to_thread(self._client.close)

    async def ping(self) -> bool:
        """Whether the server answers its ping right now."""
        try:
            return bool(await asyncio.to_thread(self._client.ping))
        except Exception:  # ping must not raise, whatever the client throws
            return False

    async def write(self, body: bytes) -> None:
        """Write one line protocol body; raise ``WriteFailed`` saying why not."""
        async with self._slots:
            await asyncio.to_thread(self._write_sync, body)

    def _write_sync(self, body: bytes) -> None:
        try:
            self._write_api.write(
                bucket=self.config.bucket,
                org=self.config.org,
                record=body.rstrip(b"\n"),
                write_precision=WritePrecision.NS,
            )
        except ApiException as exc:
            status = int(exc.status) if exc.status is not None else 0
            reason = _error_text(exc)
            kind, retryable = classify_status(status)
            lines = find_bad_lines(body, reason) if kind == "rejected" else ()
            raise WriteFailed(
                kind, retryable=retryable, status=status, reason=reason, lines=lines
            ) from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise WriteFailed("timeout", retryable=True, status=None, reason=str(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise WriteFailed("connect", retryable=True, status=None, reason=str(exc)) from exc
        except OSError as exc:
            raise WriteFailed("connect", retryable=True, status=None, reason=str(exc)) from exc


def _error_text(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if body:
        return str(body)[:4000]
    return str(exc.reason or "no reason given")
