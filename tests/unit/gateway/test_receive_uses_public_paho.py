"""The receiver uses paho-mqtt's public API only, so any paho-mqtt 2.x in pyproject's range works.

It once queued PUBACKs through paho's private ``_packet_queue`` and read ``message._topic``;
a paho release that moved either would have broken acknowledgements silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gateway


def test_no_gateway_module_reaches_into_another_objects_private_attributes() -> None:
    found = []
    for path in sorted(Path(gateway.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            if node.attr.startswith("__") and node.attr.endswith("__"):
                continue  # dunders are public protocol
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue  # our own attributes
            found.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert found == []
