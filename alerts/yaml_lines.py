"""A YAML loader that remembers where each mapping and key sits, so errors can name the line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

__all__ = ["KEY_LINES", "LINE", "line_of", "load_with_lines", "strip_lines"]

LINE = "__line__"
KEY_LINES = "__key_lines__"


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings carry their own line and each key's line."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    mapping[KEY_LINES] = {
        loader.construct_object(key, deep=True): key.start_mark.line + 1 for key, _ in node.value
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_with_lines(text: str) -> Any:
    """Parse YAML text; raises ``yaml.YAMLError`` (with ``problem_mark``) when it is not YAML."""
    return yaml.load(text, Loader=_LineLoader)


def strip_lines(value: Any) -> Any:
    """The same document without the line bookkeeping."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k not in (LINE, KEY_LINES)}
    if isinstance(value, list):
        return [strip_lines(item) for item in value]
    return value


def line_of(document: Any, path: Sequence[str | int]) -> int | None:
    """The line of the deepest node along ``path`` that the document can place."""
    line: int | None = document.get(LINE) if isinstance(document, dict) else None
    node = document
    for part in path:
        if isinstance(node, dict):
            key_line = node.get(KEY_LINES, {}).get(part)
            if key_line is not None:
                line = key_line
            if part not in node:
                break
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, dict) and LINE in node:
                line = node[LINE]  # the item's own line beats its list's key
        else:
            break
    return line
