"""YAML that remembers where things are, so that a file's errors can name its line.

Every YAML file the platform reads (the registry, rules, rule tests, fleets, scenarios) goes
through here::

    try:
        document = read_with_lines(path)          # or load_with_lines(text)
    except YamlFileInvalid as exc:                # "not valid YAML" names the line too
        raise FleetFileInvalid(exc.path, exc.reason, exc.line) from exc
    Model.model_validate(strip_lines(document))   # the models never see the bookkeeping
    line_of(document, ["rules", 3, "condition"])  # the line of the deepest node it can place

Each mapping carries its own line under ``LINE`` and each key's line under ``KEY_LINES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from devices.errors import YamlFileInvalid
from devices.validation import validation_problems

ModelT = TypeVar("ModelT", bound=BaseModel)

__all__ = [
    "KEY_LINES",
    "LINE",
    "line_of",
    "load_with_lines",
    "load_yaml_model",
    "read_with_lines",
    "strip_lines",
    "yaml_problem",
]

LINE = "__line__"
KEY_LINES = "__key_lines__"

# libyaml's parser when present: a 100,000-device registry loads several times faster.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """A safe loader whose mappings carry their own line and each key's line."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    # keys are plain scalars in our files; their text is the key (no second construction)
    mapping[KEY_LINES] = {
        key.value: key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_with_lines(text: str) -> Any:
    """Parse YAML text (safely); raises ``yaml.YAMLError`` when it is not YAML."""
    return yaml.load(text, Loader=_LineLoader)


def read_with_lines(path: str | Path) -> Any:
    """Read and parse a YAML file; raises ``YamlFileInvalid`` naming the file (and the line)."""
    where = str(path)
    try:
        return load_with_lines(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise YamlFileInvalid(where, f"cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise YamlFileInvalid(where, *yaml_problem(exc)) from exc


def load_yaml_model(path: str | Path, model: type[ModelT]) -> ModelT:
    """Read a YAML file into ``model``; raises ``YamlFileInvalid`` naming the file, the line of
    the offending field and the field (``fleet.yaml:4: districts.1.name: …``)."""
    document = read_with_lines(path)
    try:
        return model.model_validate(strip_lines(document))
    except ValidationError as exc:
        problem = validation_problems(exc)[0]
        line = line_of(document, problem.location)
        raise YamlFileInvalid(str(path), problem.sentence, line) from exc


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


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, int | None]:
    """What the parser disliked, as "not valid YAML: …", and the line it points at.

    The line is where the broken construct starts (an unclosed ``[`` rather than the end of the
    file it ran into) when the parser says so, else where it stopped.
    """
    mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    parts = (getattr(exc, "context", None), getattr(exc, "problem", None))
    what = "; ".join(str(part) for part in parts if part) or str(exc)
    return f"not valid YAML: {what}", line
