"""Alertmanager's silences and alert states through its API v2: the one truth about silences.

```python
api = AlertmanagerAPI(("http://127.0.0.1:9093",), timeout_s=5)
silence_id = await api.create_silence([Matcher("cabinet", "C-01")], starts, ends, "ana", "works")
await api.silences()            # every silence, newest first
await api.expire_silence(id)    # SilenceNotFound when none is in force
await api.alert_states()        # labels -> (state, silenced_by, inhibited_by)
```

A cluster shares silences by gossip, so each call asks the members in order and takes the
first answer; ``AlertmanagerUnavailable`` names every member when none answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from alerts.errors import AlertmanagerRefused, AlertmanagerUnavailable, SilenceNotFound

__all__ = ["AlertStatus", "AlertmanagerAPI", "Matcher", "Silence"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Matcher:
    """``name=value`` (or ``name=~regex``, or negated ``!=`` / ``!~``) on an alert's labels."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def __str__(self) -> str:
        operator = ("=" if self.is_equal else "!") + ("~" if self.is_regex else "")
        if operator == "!":
            operator = "!="
        return f"{self.name}{operator}{self.value}"


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence as Alertmanager keeps it; ``state`` is active, pending or expired."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: str


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """What Alertmanager does with one alert: active, or suppressed by silences / inhibition."""

    state: str
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _refused(response: httpx.Response) -> AlertmanagerRefused:
    return AlertmanagerRefused(str(response.url), response.status_code, response.text.strip())


class AlertmanagerAPI:
    """Silences and alert states of an Alertmanager (cluster), over HTTP."""

    def __init__(self, urls: Sequence[str], *, timeout_s: float) -> None:
        if not urls:
            raise ValueError("AlertmanagerAPI needs at least one Alertmanager URL")
        self.urls = tuple(url.rstrip("/") for url in urls)
        self._timeout_s = timeout_s

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        problems: list[str] = []
        async with httpx.AsyncClient(timeout=self._timeout_s) as http:
            for url in self.urls:
                try:
                    response = await http.request(method, f"{url}{path}", **kwargs)
                except httpx.HTTPError as exc:
                    problems.append(f"{url}: {type(exc).__name__}")
                    continue
                if response.status_code >= 500:
                    problems.append(f"{url}: answered {response.status_code}")
                    continue
                return response
        raise AlertmanagerUnavailable(self.urls, "; ".join(problems))

    async def create_silence(
        self,
        matchers: Sequence[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """Create a silence; returns its id. ``AlertmanagerRefused`` says what was wrong."""
        body = {
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in matchers
            ],
            "startsAt": _rfc3339(starts_at),
            "endsAt": _rfc3339(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        response = await self._request("POST", "/api/v2/silences", json=body)
        if response.status_code != 200:
            raise AlertmanagerRefused(
                str(response.url), response.status_code, response.text.strip()
            )
        silence_id = str(response.json()["silenceID"])
        log.info("silence_created", extra={"silence": silence_id, "by": created_by})
        return silence_id

    async def silences(self) -> list[Silence]:
        """Every silence Alertmanager keeps (expired ones until its retention), newest first."""
        response = await self._request("GET", "/api/v2/silences")
        if response.status_code != 200:
            raise AlertmanagerRefused(
                str(response.url), response.status_code, response.text.strip()
            )
        found = [self._silence(item) for item in response.json()]
        return sorted(found, key=lambda s: s.starts_at, reverse=True)

    async def expire_silence(self, silence_id: str) -> None:
        """End a silence now; ``SilenceNotFound`` when no such silence is in force."""
        current = {s.id: s for s in await self.silences()}
        found = current.get(silence_id)
        if found is None or found.state == "expired":
            raise SilenceNotFound(silence_id)
        response = await self._request("DELETE", f"/api/v2/silence/{silence_id}")
        if response.status_code == 404:
            raise SilenceNotFound(silence_id)
        if response.status_code != 200:
            raise AlertmanagerRefused(
                str(response.url), response.status_code, response.text.strip()
            )
        log.info("silence_expired", extra={"silence": silence_id})

    async def alert_states(self) -> dict[frozenset[tuple[str, str]], AlertStatus]:
        """What Alertmanager does with each alert it holds, by the alert's label set."""
        response = await self._request("GET", "/api/v2/alerts")
        if response.status_code != 200:
            raise AlertmanagerRefused(
                str(response.url), response.status_code, response.text.strip()
            )
        states: dict[frozenset[tuple[str, str]], AlertStatus] = {}
        for item in response.json():
            status = item.get("status", {})
            states[frozenset(item["labels"].items())] = AlertStatus(
                state=str(status.get("state", "unprocessed")),
                silenced_by=tuple(status.get("silencedBy") or ()),
                inhibited_by=tuple(status.get("inhibitedBy") or ()),
            )
        return states

    @staticmethod
    def _silence(item: dict[str, Any]) -> Silence:
        return Silence(
            id=str(item["id"]),
            matchers=tuple(
                Matcher(
                    str(m["name"]),
                    str(m["value"]),
                    bool(m.get("isRegex", False)),
                    bool(m.get("isEqual", True)),
                )
                for m in item["matchers"]
            ),
            starts_at=_time(item["startsAt"]),
            ends_at=_time(item["endsAt"]),
            created_by=str(item.get("createdBy", "")),
            comment=str(item.get("comment", "")),
            state=str(item.get("status", {}).get("state", "")),
        )
