"""A pydantic ``ValidationError`` turned into what a person reads: which field, and what is wrong.

Every room that validates a file, a payload or the settings says it the same way::

    except ValidationError as exc:
        problem = validation_problems(exc)[0]
        raise RuleFileInvalid(where, problem.message, field=problem.field,
                              line=line_of(document, problem.location))

``problem.sentence`` is ``"districts.0.name: String should match pattern …"``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

__all__ = ["ValidationProblem", "describe_validation_error", "validation_problems"]


@dataclass(frozen=True, slots=True)
class ValidationProblem:
    """One thing pydantic refused.

    ``location`` is the path into the input (keys and list indexes, as the file spells them:
    a Python-side ``for_`` is ``for``); ``message`` is pydantic's text without its
    ``"Value error, "`` prefix; ``kind`` is pydantic's stable error type (``missing``,
    ``greater_than_equal``, …); ``value`` is the input that was refused; ``context`` pydantic's
    details (bounds, the exception a validator raised).
    """

    location: tuple[str | int, ...]
    message: str
    kind: str
    value: Any
    context: dict[str, Any]

    @property
    def field(self) -> str:
        """The location as a dotted name, ``""`` for the whole input."""
        return ".".join(str(part) for part in self.location)

    @property
    def sentence(self) -> str:
        """``"field: message"``, or the message alone when it concerns the whole input."""
        return f"{self.field}: {self.message}" if self.location else self.message


def validation_problems(
    exc: ValidationError, *, skip: Collection[str] = ()
) -> list[ValidationProblem]:
    """Every problem of ``exc``, in pydantic's order; ``skip`` drops location parts that are
    not the input's own (a discriminated union's tag, which pydantic puts in the path)."""
    return [
        ValidationProblem(
            location=tuple(
                part.rstrip("_") if isinstance(part, str) else part
                for part in error["loc"]
                if not (isinstance(part, str) and part in skip)
            ),
            message=str(error["msg"]).removeprefix("Value error, "),
            kind=error["type"],
            value=error.get("input"),
            context=dict(error.get("ctx") or {}),
        )
        for error in exc.errors(include_url=False)
    ]


def describe_validation_error(exc: ValidationError, *, skip: Collection[str] = ()) -> str:
    """The first problem as one sentence: ``"field: message"``."""
    return validation_problems(exc, skip=skip)[0].sentence
