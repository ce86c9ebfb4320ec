"""The command audit: every downlink command, who asked, and what each device answered (SQLite).

Written before a command goes out, so a command is on record even if the broker never takes
it; kept across restarts, so a command still waiting when the API stops times out after.
Blocking: the desk calls it from ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from devices import CommandAction, open_state_file

__all__ = ["CommandAudit", "CommandRecord", "CommandStatus", "Delivery"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    arguments TEXT NOT NULL,
    target TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    token_id TEXT NOT NULL,
    requested_at REAL NOT NULL,
    deadline REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    command_id TEXT NOT NULL REFERENCES commands(id),
    device_id TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    answered_at REAL,
    PRIMARY KEY (command_id, device_id)
);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries(status);
CREATE INDEX IF NOT EXISTS commands_requested ON commands(requested_at);
"""


class CommandStatus(StrEnum):
    """Where a command (or its delivery to one device) stands."""

    SENT = "sent"  # on the broker; no reply yet
    DONE = "done"  # the device carried it out
    FAILED = "failed"  # the device refused, or the broker never took it
    TIMED_OUT = "timed_out"  # no reply before the deadline


@dataclass(frozen=True, slots=True)
class Delivery:
    """One device's part of a command."""

    device_id: str
    status: CommandStatus
    detail: str
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A command as audited: what, to whom, who asked, and how each device answered."""

    id: str
    action: CommandAction
    arguments: Mapping[str, object]
    target: str
    requested_by: str
    token_id: str
    requested_at: datetime
    deadline: datetime
    deliveries: tuple[Delivery, ...]

    @property
    def status(self) -> CommandStatus:
        """Sent while any device has not answered; then done if all did it, failed if any
        refused, else timed out."""
        states = {delivery.status for delivery in self.deliveries}
        if CommandStatus.SENT in states:
            return CommandStatus.SENT
        if states <= {CommandStatus.DONE}:
            return CommandStatus.DONE
        if CommandStatus.FAILED in states:
            return CommandStatus.FAILED
        return CommandStatus.TIMED_OUT


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value is not None else None


class CommandAudit:
    """The audit file. Thread-safe, blocking."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_state_file(self.path, _SCHEMA)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def add(self, record: CommandRecord) -> None:
        """Record a command about to go out, each delivery ``sent``."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO commands VALUES (?,?,?,?,?,?,?,?)",
                (
                    record.id,
                    record.action.value,
                    json.dumps(dict(record.arguments), sort_keys=True),
                    record.target,
                    record.requested_by,
                    record.token_id,
                    record.requested_at.timestamp(),
                    record.deadline.timestamp(),
                ),
            )
            self._db.executemany(
                "INSERT INTO deliveries VALUES (?,?,?,?,?)",
                [
                    (record.id, d.device_id, d.status.value, d.detail, None)
                    for d in record.deliveries
                ],
            )

    def settle(
        self, command_id: str, device_id: str, status: CommandStatus, detail: str, at: datetime
    ) -> bool:
        """Set a delivery's outcome if it is still open; whether it was."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "UPDATE deliveries SET status = ?, detail = ?, answered_at = ? "
                "WHERE command_id = ? AND device_id = ? AND status = 'sent'",
                (status.value, detail, at.timestamp(), command_id, device_id),
            )
        return cursor.rowcount > 0

    def expire(self, now: datetime) -> list[tuple[str, str]]:
        """Time out every open delivery past its command's deadline; those (command, device)."""
        with self._lock, self._db:
            rows = self._db.execute(
                "SELECT d.command_id, d.device_id FROM deliveries d JOIN commands c "
                "ON c.id = d.command_id WHERE d.status = 'sent' AND c.deadline <= ?",
                (now.timestamp(),),
            ).fetchall()
            self._db.executemany(
                "UPDATE deliveries SET status = 'timed_out', detail = 'no reply before the "
                "deadline' WHERE command_id = ? AND device_id = ? AND status = 'sent'",
                rows,
            )
        return [(str(row[0]), str(row[1])) for row in rows]

    def open_deliveries(self) -> list[tuple[str, str]]:
        """Deliveries still waiting for a reply: (command, device)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT command_id, device_id FROM deliveries WHERE status = 'sent'"
            ).fetchall()
        return [(str(row[0]), str(row[1])) for row in rows]

    def get(self, command_id: str) -> CommandRecord | None:
        """One command with its deliveries."""
        found = self._records("WHERE id = ?", (command_id,))
        return found[0] if found else None

    def recent(self, limit: int) -> list[CommandRecord]:
        """The newest commands first."""
        return self._records("ORDER BY requested_at DESC LIMIT ?", (limit,))

    def _records(self, clause: str, params: Sequence[object]) -> list[CommandRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM commands {clause}", params).fetchall()
            ids = [row[0] for row in rows]
            marks = ",".join("?" * len(ids))
            deliveries = self._db.execute(
                f"SELECT * FROM deliveries WHERE command_id IN ({marks}) ORDER BY device_id",
                ids,
            ).fetchall()
        by_command: dict[str, list[Delivery]] = {}
        for command_id, device_id, status, detail, answered_at in deliveries:
            by_command.setdefault(command_id, []).append(
                Delivery(device_id, CommandStatus(status), detail, _dt(answered_at))
            )
        return [
            CommandRecord(
                id=row[0],
                action=CommandAction(row[1]),
                arguments=json.loads(row[2]),
                target=row[3],
                requested_by=row[4],
                token_id=row[5],
                requested_at=datetime.fromtimestamp(row[6], tz=UTC),
                deadline=datetime.fromtimestamp(row[7], tz=UTC),
                deliveries=tuple(by_command.get(row[0], [])),
            )
            for row in rows
        ]
