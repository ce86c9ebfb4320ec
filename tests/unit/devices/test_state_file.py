"""One way to open the platform's SQLite state files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from devices import open_state_file

SCHEMA = "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY);"


def test_a_state_file_is_made_with_its_folder_in_wal_mode_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.sqlite"
    first = open_state_file(path, SCHEMA)
    first.execute("INSERT INTO seen VALUES ('a')")
    first.commit()
    second = open_state_file(path, SCHEMA)  # the schema is applied again, harmlessly
    assert second.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert second.execute("SELECT key FROM seen").fetchall() == [("a",)]
    first.close()
    second.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        open_state_file(path, SCHEMA)
