"""YAML with line numbers: every file's errors can name the line a person must look at."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, Field

import devices

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
    assert devices.strip_lines(devices.load_with_lines(TEXT)) == yaml.safe_load(TEXT)


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
    assert devices.line_of(devices.load_with_lines(TEXT), path) == line


def test_a_yaml_error_names_the_line_of_the_unclosed_bracket() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        devices.load_with_lines("a: 1\nb: [1, 2\nc: 3\n")
    reason, line = devices.yaml_problem(caught.value)
    assert line == 2
    assert reason.startswith("not valid YAML: while parsing a flow sequence")


def test_reading_a_file_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("a: 1\nb: [1, 2\nc: 3\n", encoding="utf-8")
    with pytest.raises(devices.YamlFileInvalid) as caught:
        devices.read_with_lines(path)
    assert str(caught.value).startswith(f"{path}:2: not valid YAML")
    assert (caught.value.path, caught.value.line) == (str(path), 2)
    with pytest.raises(devices.YamlFileInvalid, match=r"nowhere\.yaml: cannot read"):
        devices.read_with_lines(tmp_path / "nowhere.yaml")


def test_a_file_read_into_a_model_names_the_line_of_the_refused_field(tmp_path: Path) -> None:
    class Step(BaseModel):
        name: str
        above: float = Field(lt=100)

    class Steps(BaseModel):
        steps: list[Step]

    path = tmp_path / "steps.yaml"
    path.write_text("steps:\n  - name: a\n    above: 5\n  - name: b\n    above: 500\n")
    with pytest.raises(devices.YamlFileInvalid) as caught:
        devices.load_yaml_model(path, Steps)
    assert str(caught.value) == f"{path}:5: steps.1.above: Input should be less than 100"
    path.write_text("steps:\n  - name: a\n    above: 5\n")
    assert devices.load_yaml_model(path, Steps) == Steps(steps=[Step(name="a", above=5)])
