"""Logging follows the house rule (an event name, context in ``extra``) without tripping on
the ``LogRecord`` attributes that ``extra`` may not overwrite."""

from __future__ import annotations

import ast
import io
import logging
import tomllib
from pathlib import Path

import orjson
import pytest

from smartcity.logs import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]
# every package the wheel ships: a new room is checked without being listed here
ROOMS = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]["packages"]
)
RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def extra_keys() -> list[tuple[str, int, str]]:
    found = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                        for key in keyword.value.keys:
                            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                                found.append((str(path.relative_to(ROOT)), node.lineno, key.value))
    return found


def test_no_log_call_passes_an_extra_key_that_logging_refuses() -> None:
    clashes = [
        f"{path}:{line} extra key {key!r}" for path, line, key in extra_keys() if key in RESERVED
    ]
    assert clashes == []


def test_a_log_line_is_one_json_object_with_the_event_and_its_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("smartcity.test_logging")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.warning("message_dead_lettered", extra={"topic": "city/x", "reason": "too_large"})
    finally:
        logger.removeHandler(handler)
    line = orjson.loads(stream.getvalue())
    assert line["event"] == "message_dead_lettered"
    assert (line["level"], line["topic"], line["reason"]) == ("WARNING", "city/x", "too_large")


@pytest.mark.parametrize("key", ["created", "name", "message"])
def test_the_rule_catches_reserved_keys(key: str) -> None:
    assert key in RESERVED
