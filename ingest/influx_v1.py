"""``InfluxV1Writer``: InfluxDB 1.x's HTTP ``/write`` (``precision=ns``) through httpx."""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
from types import TracebackType

import httpx

from ingest.config import InfluxV1Config
from ingest.errors import WriteFailed

__all__ = ["InfluxV1Writer", "classify_status", "find_bad_lines"]

log = logging.getLogger(__name__)

_GZIP_IN_THREAD_BYTES = 256 * 1024
_UNPARSABLE = re.compile(r"unable to parse '((?:[^'\\]|\\.)*)'")
_FIELD_CONFLICT = re.compile(r'input field "([^"]+)" on measurement "([^"]+)" is type (\w+)')


def classify_status(status: int) -> tuple[str, bool]:
    """(kind, retryable) of an HTTP status a write got back."""
    if status == 429:
        return "throttled", True
    if status >= 500:
        return "server_error", True
    if status == 413:
        return "too_large", False
    if status in (401, 403, 404):
        # Credentials or a missing database: the data is fine, the configuration is not.
        return "refused", True
    return "rejected", False


def find_bad_lines(body: bytes, reason: str) -> tuple[int, ...]:
    """1-based numbers of the lines a 1.x error message points at, as far as it says.

    ``unable to parse '<line>'`` names the line; ``input field "f" on measurement "m" is type
    T`` names every line giving ``m.f`` a value of type T; a bare ``field type conflict`` (the
    types disagree inside the body itself, and 1.x then refuses the whole body) names the lines
    whose type differs from the first line's for that field.
    """
    lines = body.decode("utf-8", errors="replace").split("\n")
    found: set[int] = set()
    for text in _UNPARSABLE.findall(reason):
        unescaped = text.replace("\\'", "'")
        found.update(number for number, line in enumerate(lines, 1) if line in (text, unescaped))
    conflicts = _FIELD_CONFLICT.findall(reason)
    if conflicts or reason.strip() == "field type conflict":
        types_seen: dict[tuple[str, str], str] = {}
        for number, line in enumerate(lines, 1):
            parsed = _parse_line(line)
            if parsed is None:
                continue
            measurement, fields = parsed
            for field, value_type in fields.items():
                key = (measurement, field)
                if conflicts:
                    if any((field, measurement, value_type) == conflict for conflict in conflicts):
                        found.add(number)
                elif types_seen.setdefault(key, value_type) != value_type:
                    found.add(number)
    return tuple(sorted(found))


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside quotes and not after a backslash."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _parse_line(line: str) -> tuple[str, dict[str, str]] | None:
    """(measurement, field → type) of a line, or ``None`` when it is not one."""
    sections = _split(line, " ")
    if len(sections) < 2:
        return None
    measurement = _split(sections[0], ",")[0].replace("\\ ", " ").replace("\\,", ",")
    fields: dict[str, str] = {}
    for pair in _split(sections[1], ","):
        key, _, value = pair.partition("=")
        while key.endswith("\\") and value:
            more, _, value = value.partition("=")
            key = key + "=" + more
        key = key.replace("\\ ", " ").replace("\\,", ",").replace("\\=", "=")
        if value.startswith('"'):
            fields[key] = "string"
        elif value in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
            fields[key] = "boolean"
        elif value.endswith("i"):
            fields[key] = "integer"
        elif value.endswith("u"):
            fields[key] = "unsigned"
        else:
            fields[key] = "float"
    return measurement, fields


class InfluxV1Writer:
    """Writes to InfluxDB 1.x ``/write``; up to ``max_in_flight`` requests at once.

    Every request has the configured timeout. Failures become ``WriteFailed``: connection
    errors, timeouts, 5xx and 429 are retryable; 400 (a partial write or unparsable lines) is
    permanent and names the bad lines; 401/403/404 are retryable ``refused`` (fix the
    configuration and the spool drains).
    """

    def __init__(self, config: InfluxV1Config) -> None:
        self.config = config
        params = {"db": config.database, "precision": "ns"}
        if config.retention_policy:
            params["rp"] = config.retention_policy
        auth = (
            httpx.BasicAuth(config.username, config.password or "")
            if config.username is not None
            else None
        )
        self._params = params
        self._client = httpx.AsyncClient(
            base_url=config.url,
            auth=auth,
            timeout=httpx.Timeout(config.timeout_s),
            limits=httpx.Limits(
                max_connections=config.max_in_flight,
                max_keepalive_connections=config.max_in_flight,
            ),
        )

    async def __aenter__(self) -> InfluxV1Writer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def ping(self) -> bool:
        """Whether ``/ping`` answers 204 right now."""
        try:
            response = await self._client.get("/ping")
        except httpx.HTTPError:
            return False
        return response.status_code == 204

    async def write(self, body: bytes) -> None:
        """Write one line protocol body; raise ``WriteFailed`` saying why not."""
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        content = body
        if self.config.gzip:
            if len(body) > _GZIP_IN_THREAD_BYTES:
                content = await asyncio.to_thread(gzip.compress, body, 1)
            else:
                content = gzip.compress(body, 1)
            headers["Content-Encoding"] = "gzip"
        try:
            response = await self._client.post(
                "/write", params=self._params, content=content, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise WriteFailed(
                "timeout", retryable=True, status=None, reason=f"{type(exc).__name__}: {exc}"
            ) from exc
        except httpx.TransportError as exc:
            raise WriteFailed(
                "connect", retryable=True, status=None, reason=f"{type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code == 204:
            return
        reason = _error_text(response)
        kind, retryable = classify_status(response.status_code)
        lines = find_bad_lines(body, reason) if kind == "rejected" else ()
        raise WriteFailed(
            kind, retryable=retryable, status=response.status_code, reason=reason, lines=lines
        )


def _error_text(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return response.text[:1000] or response.reason_phrase
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])[:4000]
    return response.text[:1000]
