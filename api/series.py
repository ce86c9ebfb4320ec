"""Named series for the page's charts: InfluxQL the dashboards wrote, run by the API.

The browser never sends InfluxQL. It names a series (``cabinet-power``) and a key (the cabinet
``C-01``); the API takes that series' query, as the Grafana dashboard's panel has it, and expands
Grafana's macros the way Grafana does before it asks InfluxDB: ``$timeFilter`` becomes the range
in epoch ms, ``$__interval`` the range over the points wanted rounded to a readable step, the
series' variable the key (regex-escaped), every other variable "All" (``.*``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from api.errors import ApiError

__all__ = ["Band", "InfluxReader", "SeriesLine", "SeriesQuery", "SeriesUnavailable", "expand"]

log = logging.getLogger(__name__)

_STEPS_S = (10, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 21_600, 43_200, 86_400)
_MACRO = re.compile(r"\$\{?([A-Za-z_]\w*)\}?|\[\[(\w+)\]\]")


@dataclass(frozen=True, slots=True)
class Band:
    """A limit drawn across a chart: GB 3838-2002's class ``label`` starts at ``value``."""

    label: str
    value: float
    at_least: bool


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """A chart the page may ask for: its InfluxQL (with Grafana's macros), the variable the
    key fills, and where it comes from (dashboard uid and panel title)."""

    name: str
    title: str
    unit: str
    variable: str
    query: str
    source: str
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True, slots=True)
class SeriesLine:
    """One line of a chart: its label (the series' tags) and its points."""

    label: str
    times_ms: tuple[int, ...]
    values: tuple[float | None, ...]


class SeriesUnavailable(ApiError):
    """InfluxDB did not answer the query, or answered with an error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def interval_s(range_s: float, points: int) -> int:
    """``$__interval``: the range over the points wanted, rounded up to a readable step."""
    raw = range_s / max(points, 1)
    return next((step for step in _STEPS_S if step >= raw), _STEPS_S[-1])


def expand(series: SeriesQuery, key: str, *, start_ms: int, end_ms: int, points: int) -> str:
    """The query as Grafana would send it for this key and range."""
    step = interval_s((end_ms - start_ms) / 1000, points)
    text = series.query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    text = text.replace("${__interval}", f"{step}s").replace("$__interval", f"{step}s")

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        # the key is a literal inside /^...$/: escaped, it matches only itself
        return re.escape(key) if name == series.variable else ".*"

    return _MACRO.sub(value, text)


class InfluxReader:
    """Runs InfluxQL through ``/query`` (InfluxDB 1.x, and 2.x/3.x through their v1 API)."""

    def __init__(
        self,
        url: str,
        *,
        database: str,
        timeout_s: float,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._database = database
        self._timeout_s = timeout_s
        self._auth = (username, password or "") if username else None
        self._headers = {"Authorization": f"Token {token}"} if token else {}

    async def lines(self, query: str) -> list[SeriesLine]:
        """Each returned series as one line, labelled by its tags."""
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s, headers=self._headers) as client:
                response = await client.get(
                    f"{self._url}/query",
                    params={"db": self._database, "q": query, "epoch": "ms"},
                    auth=self._auth,
                )
        except httpx.HTTPError as exc:
            raise SeriesUnavailable(f"InfluxDB did not answer: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise SeriesUnavailable(f"InfluxDB answered {response.status_code}")
        lines: list[SeriesLine] = []
        for result in response.json().get("results", []):
            if "error" in result:
                log.warning("api_series_query_failed", extra={"error": result["error"]})
                raise SeriesUnavailable(f"InfluxDB refused the query: {result['error']}")
            for found in result.get("series", []):
                tags: Mapping[str, str] = found.get("tags") or {}
                label = " ".join(value for _, value in sorted(tags.items())) or found["name"]
                rows: Sequence[Sequence[object]] = found.get("values") or []
                lines.append(
                    SeriesLine(
                        label=label,
                        times_ms=tuple(int(row[0]) for row in rows),  # type: ignore[call-overload]
                        values=tuple(
                            float(row[1]) if isinstance(row[1], int | float) else None
                            for row in rows
                        ),
                    )
                )
        return lines
