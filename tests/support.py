"""Helpers the tests share: reading InfluxDB back with InfluxQL, waiting for a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["influx_count", "influx_query", "until", "wait_for"]


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
