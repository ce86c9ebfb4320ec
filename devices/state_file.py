"""The platform's small SQLite state files (alert state, incidents, the command audit, the
relay's delivery log), opened one way.

Each is shared by a service and the command line, so it is opened for use from several
threads (each owner guards it with its own lock), in WAL mode so a reader never blocks the
writer, with a 10 s busy timeout for the other process's write.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["open_state_file"]

_BUSY_TIMEOUT_S = 10


def open_state_file(path: Path, schema: str) -> sqlite3.Connection:
    """Open (creating it and its folder) a state file and apply ``schema`` (idempotent DDL).

    Raises ``OSError`` or ``sqlite3.Error``; the caller names the file in its own error.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(schema)
    except sqlite3.Error:
        connection.close()
        raise
    return connection
