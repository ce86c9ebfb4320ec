"""A pydantic error becomes one sentence naming the field, the same way in every room."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field, ValidationError, model_validator

from devices import ValidationProblem, describe_validation_error, validation_problems


class Step(BaseModel):
    type: Literal["wait"]
    for_: int = Field(alias="for", ge=1)


class Plan(BaseModel):
    name: str = Field(pattern=r"^[a-z]+$")
    steps: list[Step] = []

    @model_validator(mode="after")
    def _check(self) -> Plan:
        if self.name == "forbidden":
            raise ValueError("that name is taken")
        return self


def refusal(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Plan.model_validate(data)
    return caught.value


def test_the_sentence_names_the_dotted_field_as_the_file_spells_it() -> None:
    exc = refusal({"name": "ok", "steps": [{"type": "wait", "for": 0}]})
    assert describe_validation_error(exc) == (
        "steps.0.for: Input should be greater than or equal to 1"
    )
    problem = validation_problems(exc)[0]
    assert problem == ValidationProblem(
        location=("steps", 0, "for"),
        message="Input should be greater than or equal to 1",
        kind="greater_than_equal",
        value=0,
        context={"ge": 1},
    )
    assert problem.field == "steps.0.for"


def test_a_whole_input_problem_is_the_message_alone_without_the_value_error_prefix() -> None:
    assert describe_validation_error(refusal({"name": "forbidden"})) == "that name is taken"


def test_every_problem_is_listed_in_order_and_tags_can_be_skipped() -> None:
    problems = validation_problems(refusal({"name": "Bad", "steps": [{"type": "run"}]}))
    assert [p.field for p in problems] == ["name", "steps.0.type", "steps.0.for"]
    assert problems[0].value == "Bad"
    skipped = validation_problems(refusal({"name": "ok", "steps": [{}]}), skip={"steps"})
    assert [p.field for p in skipped] == ["0.type", "0.for"]
