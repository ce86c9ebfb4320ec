"""The alerts of every engine, for an API that runs on its own beside several gateway workers.

Each worker's engine keeps only its own devices' alerts in its SQLite store, but every engine
sends its alerts to the Alertmanager cluster and writes each change to InfluxDB
(``alert_point``). So the standalone API reads:

- active alerts from Alertmanager's API v2 (``GET /api/v2/alerts``, the first member that
  answers): the firing ones (pending alerts are not sent to Alertmanager), each named by the
  ``fingerprint`` annotation the engine sends; who acknowledged it from the acknowledgement's
  silence (``createdBy``) or from the engine's ``acknowledged_by`` annotation;
- history from InfluxDB's alert-change measurement (InfluxQL through ``/query``: 1.x, and 2.x
  through its DBRP mapping), newest first.

Both fit ``api.AlertReader`` and ``alerts.AlertSource``: the API's routes do not change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from alerts import (
    Alert,
    AlertmanagerUnavailable,
    AlertState,
    HistoryEntry,
    Silence,
    acknowledged_fingerprint,
    fingerprint,
)
from devices import PLACEMENT_TAGS, Kind

__all__ = ["AlertHistoryUnavailable", "ClusterAlertReader"]

log = logging.getLogger(__name__)

# the labels alertmanager_labels adds to the engine's own
_ADDED_LABELS = frozenset({"alertname", "severity", "kind", "district"})
_LABEL_TAGS = ("device", *PLACEMENT_TAGS)


class AlertHistoryUnavailable(Exception):
    """InfluxDB did not answer the history query, or refused it."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"alert history from InfluxDB at {url}: {reason}")
        self.url = url
        self.reason = reason


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC) + timedelta(
        microseconds=(ns % 1_000_000_000) // 1000
    )


class ClusterAlertReader:
    """Active alerts from the Alertmanager cluster, history from InfluxDB (blocking calls, as
    the API runs them in a thread)."""

    def __init__(
        self,
        alertmanager_urls: Sequence[str],
        influx_url: str,
        *,
        database: str,
        measurement: str,
        timeout_s: float,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
    ) -> None:
        if not alertmanager_urls:
            raise ValueError("the cluster reader needs at least one Alertmanager URL")
        self._alertmanagers = tuple(url.rstrip("/") for url in alertmanager_urls)
        self._influx_url = influx_url.rstrip("/")
        self._database = database
        self._measurement = measurement
        self._auth = (username, password or "") if username else None
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers)

    def close(self) -> None:
        """Close its HTTP connections."""
        self._client.close()

    # --- active alerts: Alertmanager ---------------------------------------------------------

    def _alertmanager_get(self, path: str) -> Any:
        errors: list[str] = []
        for url in self._alertmanagers:
            try:
                response = self._client.get(f"{url}{path}")
            except httpx.HTTPError as exc:
                errors.append(f"{url}: {type(exc).__name__}")
                continue
            if response.status_code == 200:
                return response.json()
            errors.append(f"{url}: HTTP {response.status_code}")
        raise AlertmanagerUnavailable(self._alertmanagers, "; ".join(errors))

    def alerts(self, *, include_resolved: bool = False) -> list[Alert]:
        """Firing alerts every engine sent, oldest first (Alertmanager keeps no resolved ones,
        so ``include_resolved`` adds none)."""
        held = self._alertmanager_get("/api/v2/alerts")
        acks: dict[str, tuple[str, datetime]] = {}
        for item in self._alertmanager_get("/api/v2/silences"):
            silence = Silence(
                id=str(item["id"]),
                matchers=(),  # an acknowledgement is known by its comment's mark
                starts_at=_time(item["startsAt"]),
                ends_at=_time(item["endsAt"]),
                created_by=str(item.get("createdBy", "")),
                comment=str(item.get("comment", "")),
                state=str(item.get("status", {}).get("state", "")),
            )
            marked = acknowledged_fingerprint(silence)
            if marked is not None and silence.state != "expired":
                acks[marked] = (silence.created_by, silence.starts_at)
        found: list[Alert] = []
        for item in held:
            try:
                alert = self._alert(item, acks)
            except (KeyError, ValueError) as exc:  # not one of ours, or from an older engine
                log.warning(
                    "api_alert_unreadable",
                    extra={"labels": item.get("labels"), "error": repr(exc)},
                )
                continue
            found.append(alert)
        found.sort(key=lambda alert: (alert.starts_at, alert.fingerprint))
        return found

    @staticmethod
    def _alert(item: Mapping[str, Any], acks: Mapping[str, tuple[str, datetime]]) -> Alert:
        labels: Mapping[str, str] = item["labels"]
        notes: Mapping[str, str] = item.get("annotations") or {}
        own = {
            ("device" if name == "device_id" else name): value
            for name, value in labels.items()
            if name not in _ADDED_LABELS
        }
        rule = labels["alertname"]
        fp = notes.get("fingerprint") or fingerprint(rule, own)
        starts_at = _time(item["startsAt"])
        by, at = acks.get(fp, (notes.get("acknowledged_by"), None))
        return Alert(
            fingerprint=fp,
            rule=rule,
            kind=Kind(labels["kind"]),
            district=labels["district"],
            severity=labels["severity"],
            labels=own,
            state=AlertState.FIRING,
            active_since=starts_at,
            fired_at=starts_at,
            resolved_at=None,
            value=float(notes["value"]) if notes.get("value") else None,
            summary=notes.get("summary", ""),
            runbook=notes.get("runbook_url", ""),
            acknowledged_by=by or None,
            acknowledged_at=at,
        )

    # --- history: InfluxDB -------------------------------------------------------------------

    def changes(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        district: str | None = None,
        kind: str | None = None,
        severity: str | None = None,
        limit: int = 1000,
    ) -> list[HistoryEntry]:
        """Changes every engine wrote, newest first, filtered like ``AlertStore.changes``."""
        where = []
        if since is not None:
            where.append(f"time >= {_ns(since)}")
        if until is not None:
            where.append(f"time < {_ns(until)}")
        for tag, value in (("district", district), ("kind", kind), ("severity", severity)):
            if value is not None:
                where.append(f'"{tag}" = {_quoted(value)}')
        query = f'SELECT * FROM "{self._measurement}"'
        if where:
            query += " WHERE " + " AND ".join(where)
        query += f" ORDER BY time DESC LIMIT {int(limit)}"
        return [self._entry(row) for row in self._rows(query)]

    def _rows(self, query: str) -> list[dict[str, Any]]:
        try:
            response = self._client.get(
                f"{self._influx_url}/query",
                params={"db": self._database, "q": query, "epoch": "ns"},
                auth=self._auth,
            )
        except httpx.HTTPError as exc:
            raise AlertHistoryUnavailable(self._influx_url, type(exc).__name__) from exc
        if response.status_code != 200:
            raise AlertHistoryUnavailable(self._influx_url, f"HTTP {response.status_code}")
        rows: list[dict[str, Any]] = []
        for result in response.json().get("results", []):
            if "error" in result:
                raise AlertHistoryUnavailable(self._influx_url, str(result["error"]))
            for series in result.get("series", []):
                columns = series["columns"]
                rows.extend(dict(zip(columns, values, strict=True)) for values in series["values"])
        return rows

    @staticmethod
    def _entry(row: Mapping[str, Any]) -> HistoryEntry:
        value = row.get("value")
        return HistoryEntry(
            fingerprint=str(row["fingerprint"]),
            rule=str(row["rule"]),
            change=str(row["change"]),
            at=_from_ns(int(row["time"])),
            value=float(value) if isinstance(value, int | float) else None,
            district=str(row["district"]),
            kind=str(row["kind"]),
            severity=str(row["severity"]),
            labels={name: str(row[name]) for name in _LABEL_TAGS if row.get(name)},
            summary=str(row.get("summary") or ""),
        )
