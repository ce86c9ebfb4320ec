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
    "command": {"devices", "alerts"},
    "gateway": {"devices", "ingest", "alerts"},
    "api": {"devices", "alerts", "command", "ingest"},
    "smartcity": {
        "devices",
        "simulators",
        "ingest",
        "alerts",
        "command",
        "dashboards",
        "gateway",
        "api",
    },
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


def is_cli_module(path: Path) -> bool:
    """The command line's own modules: ``cli.py``, ``cli_*.py`` and ``__main__.py`` anywhere
    under ``smartcity/``. They parse arguments and call the assembly; nothing else imports them."""
    relative = path.relative_to(ROOT)
    return relative.parts[0] == "smartcity" and (
        path.stem == "cli" or path.stem.startswith("cli_") or path.stem == "__main__"
    )


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_outside_the_command_line_imports_a_command_line_module() -> None:
    """``platform.py`` once took helpers from ``cli_simulate.py``: the front door's logic then
    lived in an argument parser. Lazy imports inside functions count too."""
    sources = [path for room in ALLOWED for path in sorted((ROOT / room).rglob("*.py"))]
    cli_modules = {module_name(path) for path in sources if is_cli_module(path)}
    assert "smartcity.cli" in cli_modules  # the rule below is about something that exists
    offences = []
    for path in sources:
        if is_cli_module(path):
            continue
        for module, line in imports_of(path):
            if module in cli_modules:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offences == []


LINES_MAX = 400
BENCHMARKS = ROOT / "smartcity" / "bench"


def test_no_module_is_long_without_a_reason_at_its_top() -> None:
    """One concern per module, a few hundred lines at most (STYLE.md). A module that must be
    longer says why in its docstring, in a line starting ``Long because:``. The benchmarks are
    exempt, like the tests."""
    offences = []
    for room in ALLOWED:
        for path in sorted((ROOT / room).rglob("*.py")):
            if path.is_relative_to(BENCHMARKS):
                continue
            text = path.read_text(encoding="utf-8")
            lines = text.count("\n")
            if lines <= LINES_MAX:
                continue
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if not any(line.startswith("Long because:") for line in docstring.splitlines()):
                offences.append(f"{path.relative_to(ROOT)}: {lines} lines and no 'Long because:'")
    assert offences == []
