"""Persisted alert state (SQLite): active alerts with their ``for:`` timers, history, and the
operators' acknowledgements (silences are Alertmanager's).

The engine writes a batch of transitions in one transaction before it announces any of them, so
after a restart a firing alert is neither forgotten nor announced again, and a pending alert
resumes its ``for:`` from when its condition began. The ``smartcity alerts`` commands write
acknowledgements to the same file (WAL mode lets them in while the engine runs);
the engine picks them up on its next tick.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alerts.errors import AlertStateUnusable
from alerts.evaluate import Transition
from alerts.model import Alert, AlertState
from devices import Kind, open_state_file

__all__ = ["AlertStore", "HistoryEntry", "PendingAck"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    fingerprint TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    district TEXT NOT NULL,
    severity TEXT NOT NULL,
    labels TEXT NOT NULL,
    state TEXT NOT NULL,
    active_since REAL NOT NULL,
    fired_at REAL,
    resolved_at REAL,
    value REAL,
    summary TEXT NOT NULL,
    runbook TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at REAL
);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    change TEXT NOT NULL,
    at REAL NOT NULL,
    value REAL
);
CREATE TABLE IF NOT EXISTS acks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    acknowledged_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    at REAL NOT NULL,
    applied INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One announced change of an alert, with what the alert was about."""

    fingerprint: str
    rule: str
    change: str
    at: datetime
    value: float | None
    district: str
    kind: str
    severity: str
    labels: Mapping[str, str]
    summary: str


@dataclass(frozen=True, slots=True)
class PendingAck:
    """An acknowledgement an operator wrote that the engine has not applied yet."""

    id: int
    fingerprint: str
    acknowledged_by: str
    comment: str
    at: datetime


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value is not None else None


class AlertStore:
    """The SQLite file behind the engine and the operators' commands. Thread-safe, blocking:
    call it from ``asyncio.to_thread`` in async code."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = open_state_file(self.path, _SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AlertStateUnusable(str(path), f"cannot open alert state: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the engine's side -------------------------------------------------------------------

    def record(self, transitions: Sequence[Transition]) -> None:
        """Persist a batch of transitions in one transaction."""
        if not transitions:
            return
        with self._lock, self._db:
            for transition in transitions:
                alert = transition.alert
                if transition.dropped:
                    self._db.execute(
                        "DELETE FROM alerts WHERE fingerprint = ?", (alert.fingerprint,)
                    )
                    continue
                self._db.execute(
                    "INSERT OR REPLACE INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        alert.fingerprint,
                        alert.rule,
                        alert.kind.value,
                        alert.district,
                        alert.severity,
                        json.dumps(dict(alert.labels), sort_keys=True),
                        alert.state.value,
                        _ts(alert.active_since),
                        _ts(alert.fired_at),
                        _ts(alert.resolved_at),
                        alert.value,
                        alert.summary,
                        alert.runbook,
                        alert.acknowledged_by,
                        _ts(alert.acknowledged_at),
                    ),
                )
                if transition.change is not None:
                    when = {
                        "firing": alert.fired_at,
                        "resolved": alert.resolved_at,
                        "acknowledged": alert.acknowledged_at,
                    }[transition.change.value]
                    self._db.execute(
                        "INSERT INTO history (fingerprint, rule, change, at, value) "
                        "VALUES (?,?,?,?,?)",
                        (
                            alert.fingerprint,
                            alert.rule,
                            transition.change.value,
                            _ts(when),
                            alert.value,
                        ),
                    )

    def alerts(self, *, include_resolved: bool = False) -> list[Alert]:
        """Alerts pending or firing (and resolved ones, when asked), oldest first."""
        query = "SELECT * FROM alerts"
        if not include_resolved:
            query += " WHERE state != 'resolved'"
        with self._lock:
            rows = self._db.execute(query + " ORDER BY active_since").fetchall()
        return [self._alert(row) for row in rows]

    @staticmethod
    def _alert(row: Sequence[object]) -> Alert:
        (fp, rule, kind, district, severity, labels, state, since, fired, resolved, value) = row[
            :11
        ]
        summary, runbook, acked_by, acked_at = row[11:]
        return Alert(
            fingerprint=str(fp),
            rule=str(rule),
            kind=Kind(str(kind)),
            district=str(district),
            severity=str(severity),
            labels=json.loads(str(labels)),
            state=AlertState(str(state)),
            active_since=_dt(float(since)),  # type: ignore[arg-type]
            fired_at=_dt(fired),  # type: ignore[arg-type]
            resolved_at=_dt(resolved),  # type: ignore[arg-type]
            value=float(value) if value is not None else None,  # type: ignore[arg-type]
            summary=str(summary),
            runbook=str(runbook),
            acknowledged_by=str(acked_by) if acked_by is not None else None,
            acknowledged_at=_dt(acked_at),  # type: ignore[arg-type]
        )

    def history(self, fp: str | None = None) -> list[tuple[str, str, str, datetime]]:
        """Announced changes, oldest first: (fingerprint, rule, change, at)."""
        query = "SELECT fingerprint, rule, change, at FROM history"
        params: tuple[str, ...] = ()
        if fp is not None:
            query += " WHERE fingerprint = ?"
            params = (fp,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [(row[0], row[1], row[2], datetime.fromtimestamp(row[3], tz=UTC)) for row in rows]

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
        """Announced changes, newest first, filtered by time, district, kind and severity."""
        query = (
            "SELECT h.fingerprint, h.rule, h.change, h.at, h.value, a.district, a.kind,"
            " a.severity, a.labels, a.summary FROM history h"
            " JOIN alerts a ON a.fingerprint = h.fingerprint WHERE 1 = 1"
        )
        params: list[object] = []
        for clause, value in (
            (" AND h.at >= ?", _ts(since)),
            (" AND h.at < ?", _ts(until)),
            (" AND a.district = ?", district),
            (" AND a.kind = ?", kind),
            (" AND a.severity = ?", severity),
        ):
            if value is not None:
                query += clause
                params.append(value)
        query += " ORDER BY h.id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [
            HistoryEntry(
                fingerprint=row[0],
                rule=row[1],
                change=row[2],
                at=datetime.fromtimestamp(row[3], tz=UTC),
                value=row[4],
                district=row[5],
                kind=row[6],
                severity=row[7],
                labels=json.loads(row[8]),
                summary=row[9],
            )
            for row in rows
        ]

    def pending_acks(self) -> list[PendingAck]:
        """Acknowledgements not applied yet, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, fingerprint, acknowledged_by, comment, at FROM acks "
                "WHERE applied = 0 ORDER BY id"
            ).fetchall()
        return [
            PendingAck(row[0], row[1], row[2], row[3], datetime.fromtimestamp(row[4], tz=UTC))
            for row in rows
        ]

    def mark_acks_applied(self, ids: Sequence[int]) -> None:
        """Mark acknowledgements as applied (or found moot)."""
        with self._lock, self._db:
            self._db.executemany("UPDATE acks SET applied = 1 WHERE id = ?", [(i,) for i in ids])

    # --- the operators' side -----------------------------------------------------------------

    def add_ack(self, fp: str, by: str, comment: str, at: datetime) -> int:
        """Queue an acknowledgement of an alert for the engine; returns its id."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO acks (fingerprint, acknowledged_by, comment, at) VALUES (?,?,?,?)",
                (fp, by, comment, at.timestamp()),
            )
        return int(cursor.lastrowid or 0)
