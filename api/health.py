"""Health checks of the API's dependencies, for ``/healthz``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import httpx

from api.sources import AlertReader, DependencyHealth

__all__ = ["AlertStoreCheck", "FunctionCheck", "InfluxPing"]

log = logging.getLogger(__name__)


class InfluxPing:
    """InfluxDB answers ``/ping`` (1.x and 2.x alike) with 204."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self.name = "influxdb"
        self._url = url.rstrip("/")
        self._timeout_s = timeout_s

    async def check(self) -> DependencyHealth:
        """Ping it once."""
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.get(f"{self._url}/ping")
        except httpx.HTTPError as exc:
            return DependencyHealth(
                self.name, False, {"url": self._url, "error": type(exc).__name__}
            )
        ok = response.status_code in (200, 204)
        return DependencyHealth(self.name, ok, {"url": self._url, "status": response.status_code})


class AlertStoreCheck:
    """The engine's alert state can be read; reports how many alerts are active."""

    def __init__(self, store: AlertReader, *, timeout_s: float) -> None:
        self.name = "alert_store"
        self._store = store
        self._timeout_s = timeout_s

    async def check(self) -> DependencyHealth:
        """Read the active alerts once."""
        try:
            async with asyncio.timeout(self._timeout_s):
                active = await asyncio.to_thread(self._store.alerts)
        except Exception as exc:  # a health check reports, never raises
            log.warning(
                "api_health_check_failed", extra={"dependency": self.name, "error": str(exc)}
            )
            return DependencyHealth(self.name, False, {"error": type(exc).__name__})
        return DependencyHealth(self.name, True, {"active_alerts": len(active)})


class FunctionCheck:
    """A check answered by a function of the process (``(ok, detail)``): the gateway's figures
    when the API runs inside ``smartcity up``."""

    def __init__(self, name: str, probe: Callable[[], tuple[bool, Mapping[str, object]]]) -> None:
        self.name = name
        self._probe = probe

    async def check(self) -> DependencyHealth:
        """Ask the function."""
        try:
            ok, detail = self._probe()
        except Exception as exc:  # a health check reports, never raises
            log.warning(
                "api_health_check_failed", extra={"dependency": self.name, "error": str(exc)}
            )
            return DependencyHealth(self.name, False, {"error": type(exc).__name__})
        return DependencyHealth(self.name, ok, detail)
