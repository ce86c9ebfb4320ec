"""YAML with line numbers: every file's errors can name the line a person must look at."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devices import (
    YamlFileInvalid,
    line_of,
    load_with_lines,
    read_with_lines,
    strip_lines,
    yaml_problem,
)

TEXT = """\
name: demo
rules:
  - name: hot
    condition:
      type: threshold
      above: 80
  - {name: cold, condition: {type: threshold, below: 5}}
"""


def test_the_document_without_bookkeeping_is_what_a_plain_loader_reads() -> None:
    assert strip_lines(load_with_lines(TEXT)) == yaml.safe_load(TEXT)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ([], 1),
        (["name"], 1),
        (["rules"], 2),
        (["rules", 0], 3),
        (["rules", 0, "condition"], 4),
        (["rules", 0, "condition", "above"], 6),
        (["rules", 1, "condition", "below"], 7),  # a flow mapping: every key on its line
        (["rules", 0, "condition", "nothing"], 4),  # the deepest node it can place
        (["rules", 9], 2),
    ],
)
def test_line_of_names_the_deepest_node_it_can_place(path: list[str | int], line: int) -> None:
    assert line_of(load_with_lines(TEXT), path) == line


def test_a_yaml_error_names_the_line_of_the_unclosed_bracket() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        load_with_lines("a: 1\nb: [1, 2\nc: 3\n")
    reason, line = yaml_problem(caught.value)
    assert line == 2
    assert reason.startswith("not valid YAML: while parsing a flow sequence")


def test_reading_a_file_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("a: 1\nb: [1, 2\nc: 3\n", encoding="utf-8")
    with pytest.raises(YamlFileInvalid) as caught:
        read_with_lines(path)
    assert str(caught.value).startswith(f"{path}:2: not valid YAML")
    assert (caught.value.path, caught.value.line) == (str(path), 2)
    with pytest.raises(YamlFileInvalid, match=r"nowhere\.yaml: cannot read"):
        read_with_lines(tmp_path / "nowhere.yaml")
