"""Incidents, their steps, alerts and timelines in SQLite: what survives a restart.

The platform's incident service and the ``smartcity incidents`` commands share the file the way
the rule engine and ``smartcity alerts`` do: WAL mode, a busy timeout, and every change one
short transaction. Nothing is cached in memory, so each side sees the other's changes on its
next read. What must happen once (an escalation, a platform step's run) is claimed with a
conditional ``UPDATE``: a second process, or the same one after a restart, finds it taken.

Long because: the four tables' SQL and their mapping to the frozen values belong together.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from command.errors import IncidentNotFound, IncidentStateUnusable
from command.model import (
    Incident,
    IncidentStatus,
    Performer,
    SpillForecast,
    StepState,
    StepStatus,
    TimelineEntry,
    TimelineKind,
)
from command.spill import forecast_from_json, forecast_json
from devices import open_state_file

__all__ = ["IncidentStore", "NewStep", "TimelineRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    district TEXT NOT NULL,
    placement TEXT NOT NULL,
    group_key TEXT NOT NULL,
    latitude REAL,
    longitude REAL,
    status TEXT NOT NULL,
    assignee TEXT,
    plan TEXT,
    opened_at REAL NOT NULL,
    opened_by TEXT NOT NULL,
    updated_at REAL NOT NULL,
    closed_at REAL,
    report TEXT NOT NULL DEFAULT '',
    escalation_level INTEGER NOT NULL DEFAULT 0,
    forecast TEXT
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents(type, group_key, status);
CREATE TABLE IF NOT EXISTS incident_alerts (
    incident_id INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    joined_at REAL NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);
CREATE TABLE IF NOT EXISTS steps (
    incident_id INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    performer TEXT NOT NULL,
    action TEXT NOT NULL,
    due_at REAL,
    status TEXT NOT NULL,
    done_by TEXT,
    done_at REAL,
    comment TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    escalated_at REAL,
    PRIMARY KEY (incident_id, step_id)
);
CREATE TABLE IF NOT EXISTS timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_incident ON timeline(incident_id, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class NewStep:
    """A plan step as an incident starts with it."""

    step_id: str
    title: str
    performer: Performer
    action: str
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """A timeline entry with the incident it belongs to (for the annotation export)."""

    incident_id: int
    incident_type: str
    severity: str
    district: str
    entry: TimelineEntry


Entry = tuple[datetime, str, TimelineKind, str, Mapping[str, str]]


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), tz=UTC) if value is not None else None


class IncidentStore:
    """The SQLite file of incidents. Thread-safe, blocking: call it from ``asyncio.to_thread``
    in async code."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = open_state_file(self.path, _SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise IncidentStateUnusable(str(path), f"cannot open incident state: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> IncidentStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------

    def create(
        self,
        *,
        type_: str,
        severity: str,
        title: str,
        district: str,
        placement: Mapping[str, str],
        group_key: str,
        latitude: float | None,
        longitude: float | None,
        plan: str | None,
        at: datetime,
        by: str,
        steps: Sequence[NewStep],
        entries: Sequence[Entry],
        fingerprint: str | None = None,
        forecast: SpillForecast | None = None,
    ) -> int:
        """A new incident with its steps and first timeline entries, in one transaction."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO incidents (type, severity, title, district, placement, group_key,"
                " latitude, longitude, status, plan, opened_at, opened_by, updated_at, forecast)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    type_,
                    severity,
                    title,
                    district,
                    json.dumps(dict(placement), sort_keys=True),
                    group_key,
                    latitude,
                    longitude,
                    IncidentStatus.OPEN.value,
                    plan,
                    at.timestamp(),
                    by,
                    at.timestamp(),
                    forecast_json(forecast),
                ),
            )
            incident_id = int(cursor.lastrowid or 0)
            self._db.executemany(
                "INSERT INTO steps (incident_id, step_id, position, title, performer, action,"
                " due_at, status) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        incident_id,
                        step.step_id,
                        position,
                        step.title,
                        step.performer.value,
                        step.action,
                        _ts(step.due_at),
                        StepStatus.PENDING.value,
                    )
                    for position, step in enumerate(steps)
                ],
            )
            if fingerprint is not None:
                self._db.execute(
                    "INSERT INTO incident_alerts VALUES (?,?,?)",
                    (incident_id, fingerprint, at.timestamp()),
                )
            self._append(incident_id, entries)
        return incident_id

    def update(
        self,
        incident_id: int,
        entries: Sequence[Entry],
        *,
        fields: Mapping[str, object] | None = None,
        expect_status: IncidentStatus | None = None,
    ) -> bool:
        """Change an incident's fields and add timeline entries in one transaction; with
        ``expect_status``, only if it still has that status (whether it changed)."""
        columns = dict(fields or {})
        if entries:
            columns["updated_at"] = max(entry[0] for entry in entries).timestamp()
        with self._lock, self._db:
            if columns:
                assignments = ", ".join(f"{name} = ?" for name in columns)
                query = f"UPDATE incidents SET {assignments} WHERE id = ?"
                params: list[object] = [*(_column(v) for v in columns.values()), incident_id]
                if expect_status is not None:
                    query += " AND status = ?"
                    params.append(expect_status.value)
                if self._db.execute(query, params).rowcount == 0:
                    return False
            self._append(incident_id, entries)
        return True

    def join_alert(self, incident_id: int, fingerprint: str, entry: Entry) -> bool:
        """Add an alert to an incident (and its timeline entry); False if it was already in."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO incident_alerts VALUES (?,?,?)",
                (incident_id, fingerprint, entry[0].timestamp()),
            )
            if cursor.rowcount == 0:
                return False
            self._append(incident_id, [entry])
        return True

    def update_step(
        self,
        incident_id: int,
        step_id: str,
        entries: Sequence[Entry],
        *,
        fields: Mapping[str, object],
        only_if: str,
        escalate: bool = False,
    ) -> bool:
        """Change a step if ``only_if`` (an SQL condition on its row) holds, with its timeline
        entries, in one transaction: the claim that makes a step run or escalate once."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._lock, self._db:
            cursor = self._db.execute(
                f"UPDATE steps SET {assignments} "
                f"WHERE incident_id = ? AND step_id = ? AND ({only_if})",
                [*(_column(v) for v in fields.values()), incident_id, step_id],
            )
            if cursor.rowcount == 0:
                return False
            if escalate:
                self._escalate(incident_id)
            self._append(incident_id, entries)
        return True

    def escalate(self, incident_id: int, entries: Sequence[Entry]) -> None:
        """One escalation level up, with its timeline entries, in one transaction."""
        with self._lock, self._db:
            self._escalate(incident_id)
            self._append(incident_id, entries)

    def _escalate(self, incident_id: int) -> None:
        self._db.execute(
            "UPDATE incidents SET escalation_level = escalation_level + 1 WHERE id = ?",
            (incident_id,),
        )

    def _append(self, incident_id: int, entries: Sequence[Entry]) -> None:
        if entries:  # every change leaves an entry: the incident was updated when it was made
            self._db.execute(
                "UPDATE incidents SET updated_at = MAX(updated_at, ?) WHERE id = ?",
                (max(entry[0] for entry in entries).timestamp(), incident_id),
            )
        self._db.executemany(
            "INSERT INTO timeline (incident_id, at, actor, kind, text, detail)"
            " VALUES (?,?,?,?,?,?)",
            [
                (
                    incident_id,
                    at.timestamp(),
                    actor,
                    kind.value,
                    text,
                    json.dumps(dict(detail), sort_keys=True),
                )
                for at, actor, kind, text, detail in entries
            ],
        )

    def set_meta(self, key: str, value: str) -> None:
        """Remember one small value (the annotation export's position)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        """A remembered value."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    # --- reading -----------------------------------------------------------------------------

    def find_open(self, type_: str, group_key: str) -> int | None:
        """The incident of this type and group that is not closed, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM incidents WHERE type = ? AND group_key = ? AND status != ?"
                " ORDER BY id DESC LIMIT 1",
                (type_, group_key, IncidentStatus.CLOSED.value),
            ).fetchone()
        return int(row[0]) if row else None

    def incident_of_alert(self, fingerprint: str) -> list[int]:
        """The incidents (not closed) an alert belongs to."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.incident_id FROM incident_alerts a JOIN incidents i"
                " ON i.id = a.incident_id WHERE a.fingerprint = ? AND i.status != ?",
                (fingerprint, IncidentStatus.CLOSED.value),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def ids(self, *, include_closed: bool = False) -> list[int]:
        """Incident ids, oldest first; closed ones only when asked."""
        query = "SELECT id FROM incidents"
        if not include_closed:
            query += f" WHERE status != '{IncidentStatus.CLOSED.value}'"
        with self._lock:
            return [int(row[0]) for row in self._db.execute(query + " ORDER BY id")]

    def get(self, incident_id: int) -> Incident:
        """One incident, whole: steps, alerts and timeline."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, type, severity, title, district, placement, latitude, longitude,"
                " status, assignee, plan, opened_at, opened_by, updated_at, closed_at, report,"
                " escalation_level, forecast FROM incidents WHERE id = ?",
                (incident_id,),
            ).fetchone()
            if row is None:
                raise IncidentNotFound(incident_id)
            steps = self._db.execute(
                "SELECT step_id, position, title, performer, action, due_at, status, done_by,"
                " done_at, comment, result, escalated_at FROM steps WHERE incident_id = ?"
                " ORDER BY position",
                (incident_id,),
            ).fetchall()
            alerts = self._db.execute(
                "SELECT fingerprint FROM incident_alerts WHERE incident_id = ? ORDER BY joined_at",
                (incident_id,),
            ).fetchall()
            timeline = self._db.execute(
                "SELECT id, at, actor, kind, text, detail FROM timeline WHERE incident_id = ?"
                " ORDER BY id",
                (incident_id,),
            ).fetchall()
        return Incident(
            id=int(row[0]),
            type=row[1],
            severity=row[2],
            title=row[3],
            district=row[4],
            placement=json.loads(row[5]),
            latitude=row[6],
            longitude=row[7],
            status=IncidentStatus(row[8]),
            assignee=row[9],
            plan=row[10],
            opened_at=_dt(row[11]) or datetime.now(UTC),
            opened_by=row[12],
            updated_at=_dt(row[13]) or datetime.now(UTC),
            closed_at=_dt(row[14]),
            report=row[15],
            escalation_level=int(row[16]),
            forecast=forecast_from_json(row[17]),
            alerts=tuple(str(a[0]) for a in alerts),
            steps=tuple(
                StepState(
                    step_id=s[0],
                    position=int(s[1]),
                    title=s[2],
                    performer=Performer(s[3]),
                    action=s[4],
                    due_at=_dt(s[5]),
                    status=StepStatus(s[6]),
                    done_by=s[7],
                    done_at=_dt(s[8]),
                    comment=s[9],
                    result=s[10],
                    escalated_at=_dt(s[11]),
                )
                for s in steps
            ),
            timeline=tuple(
                TimelineEntry(
                    id=int(t[0]),
                    at=_dt(t[1]) or datetime.now(UTC),
                    actor=t[2],
                    kind=TimelineKind(t[3]),
                    text=t[4],
                    detail=json.loads(t[5]),
                )
                for t in timeline
            ),
        )

    def last_entry_id(self) -> int:
        """The newest timeline entry's id (0: none yet): where a watcher of changes starts."""
        with self._lock:
            row = self._db.execute("SELECT MAX(id) FROM timeline").fetchone()
        return int(row[0] or 0)

    def timeline_after(self, after_id: int, limit: int) -> list[TimelineRow]:
        """Timeline entries of every incident after ``after_id``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT t.id, t.at, t.actor, t.kind, t.text, t.detail, t.incident_id, i.type,"
                " i.severity, i.district FROM timeline t JOIN incidents i ON i.id = t.incident_id"
                " WHERE t.id > ? ORDER BY t.id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [
            TimelineRow(
                incident_id=int(row[6]),
                incident_type=row[7],
                severity=row[8],
                district=row[9],
                entry=TimelineEntry(
                    id=int(row[0]),
                    at=_dt(row[1]) or datetime.now(UTC),
                    actor=row[2],
                    kind=TimelineKind(row[3]),
                    text=row[4],
                    detail=json.loads(row[5]),
                ),
            )
            for row in rows
        ]


def _column(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, SpillForecast):
        return forecast_json(value)
    if isinstance(value, IncidentStatus | StepStatus):
        return value.value
    return value
