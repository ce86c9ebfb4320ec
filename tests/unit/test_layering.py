"""The import direction of DESIGN.md: arrows point one way, and rooms meet only through __all__."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    "devices": set(),
    "simulators": {"devices"},
    "ingest": {"devices"},
    "alerts": {"devices"},
    "dashboards": {"devices"},
    "gateway": {"devices", "ingest", "alerts"},
    "api": {"devices", "alerts", "command", "ingest"},
    "smartcity": {"devices", "simulators", "ingest", "alerts", "dashboards", "gateway", "api"},
}


def imports_of(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend(
                [(node.module, node.lineno)]
                + [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
            )
    return found


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_a_room_imports_only_the_rooms_it_may(room: str) -> None:
    offences = []
    for path in sorted((ROOT / room).rglob("*.py")):
        for module, line in imports_of(path):
            top = module.split(".")[0]
            if top in ALLOWED and top != room and top not in ALLOWED[room]:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offences == []


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_other_rooms_use_only_a_rooms_public_names(room: str) -> None:
    """``from ingest.spool import X`` reaches past a room's front door; ``from ingest import X``
    with X in ``ingest.__all__`` does not. The tests may reach in."""
    import importlib

    offences = []
    for other in ALLOWED:
        if other == room:
            continue
        public = set(getattr(importlib.import_module(room), "__all__", []))
        for path in sorted((ROOT / other).rglob("*.py")):
            for module, line in imports_of(path):
                parts = module.split(".")
                if parts[0] != room or len(parts) == 1:
                    continue
                if len(parts) == 2 and parts[1] in public:
                    continue
                # ``from room import name`` yields "room" and "room.name": only the latter counts
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offences == []
