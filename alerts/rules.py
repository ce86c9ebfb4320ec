"""Rule files: the YAML a control centre writes, validated strictly on load.

A rule file holds ``rules:``, a list of rules. Each rule selects devices of one kind, names a
condition, and says how loud (severity), who (labels), what (summary) and how to act (runbook)::

    rules:
      - name: junction-jammed
        kind: traffic_signal
        severity: warning
        for: 10m
        summary: "Junction {junction} jammed: queue {value:.0f} vehicles"
        runbook: https://runbooks.example/traffic/jammed
        condition: {type: threshold, field: approaches.queue_veh, above: 25, clear: 15}

Errors name the file, line, rule and field: ``rules.yaml:12: rule 'x': field 'above': ...``.

Long because: the rule schema is one strict model per condition type, each with its own
cross-field check, and the loader that reports their errors by file:line sits beside them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.durations import Duration
from alerts.errors import RuleFileInvalid
from devices import (
    PLACEMENT_TAGS,
    SCHEDULE_ATTRIBUTES,
    CheckpointTelemetry,
    Kind,
    Placement,
    Reading,
    StreetlightTelemetry,
    TrafficSignalFaultEvent,
    TrafficSignalTelemetry,
    VehiclePass,
    Violation,
    WaterQualityTelemetry,
    line_of,
    load_with_lines,
    parse_local_span,
    strip_lines,
    validation_problems,
    yaml_problem,
)

__all__ = [
    "GROUP_ATTRIBUTES",
    "Absent",
    "Condition",
    "EventRate",
    "Fault",
    "Group",
    "Inhibit",
    "Offline",
    "Rule",
    "RuleSet",
    "Selector",
    "Severity",
    "State",
    "Threshold",
    "WaterClassBelowTarget",
    "When",
    "load_rules",
    "parse_rules",
    "rule_files",
]

RULE_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
LABEL_NAME = r"^[a-z_][a-z0-9_]{0,63}$"
GROUP_ATTRIBUTES = (*PLACEMENT_TAGS, "district")
SELECT_ATTRIBUTES = (*GROUP_ATTRIBUTES, "target_class")

TELEMETRY_MODELS: dict[Kind, type[Reading]] = {
    Kind.STREETLIGHT: StreetlightTelemetry,
    Kind.WATER_QUALITY: WaterQualityTelemetry,
    Kind.TRAFFIC_SIGNAL: TrafficSignalTelemetry,
    Kind.CHECKPOINT: CheckpointTelemetry,
}
EVENT_MODELS: dict[Kind, tuple[type[Reading], ...]] = {
    Kind.STREETLIGHT: (),
    Kind.WATER_QUALITY: (),
    Kind.TRAFFIC_SIGNAL: (TrafficSignalFaultEvent,),
    Kind.CHECKPOINT: (VehiclePass, Violation),
}


class FieldProblem(ValueError):
    """A cross-field check that failed, with the path of the field it is about."""

    def __init__(self, field: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.field = field


class Severity(StrEnum):
    """How urgently people must act."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    """Which devices of the rule's kind it watches; empty lists mean every one."""

    districts: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    attributes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_attributes(self) -> Selector:
        unknown = sorted(set(self.attributes) - set(SELECT_ATTRIBUTES))
        if unknown:
            raise ValueError(
                f"unknown registry attribute {unknown[0]!r}; known: {', '.join(SELECT_ATTRIBUTES)}"
            )
        return self


class When(_Strict):
    """A gate on the time of day: outside it, the condition does not hold.

    ``local_time_from`` / ``outside_local_time_from`` name a registry field that holds each
    device's own ``HH:MM-HH:MM`` span (``flash_schedule``); a device without one is outside it
    at every hour.
    """

    sun_above_deg: float | None = Field(default=None, ge=-90, le=90)
    sun_below_deg: float | None = Field(default=None, ge=-90, le=90)
    local_time: str | None = Field(default=None, description="HH:MM-HH:MM, may wrap midnight")
    outside_local_time: str | None = None
    local_time_from: str | None = Field(default=None, description="a registry schedule field")
    outside_local_time_from: str | None = None

    @model_validator(mode="after")
    def _check(self) -> When:
        for name in ("local_time", "outside_local_time"):
            value = getattr(self, name)
            if value is not None:
                try:
                    parse_local_span(value)
                except ValueError as exc:
                    raise FieldProblem((name,), f"{name} {exc}") from None
        for name in ("local_time_from", "outside_local_time_from"):
            value = getattr(self, name)
            if value is not None and value not in SCHEDULE_ATTRIBUTES:
                known = ", ".join(SCHEDULE_ATTRIBUTES)
                raise FieldProblem(
                    (name,), f"{value!r} is not a registry schedule field; known: {known}"
                )
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("give at least one of " + ", ".join(type(self).model_fields))
        return self

    def span(self, name: str) -> tuple[time, time] | None:
        """The (start, end) local times of ``local_time`` or ``outside_local_time``."""
        value = getattr(self, name)
        return None if value is None else parse_local_span(value)

    @property
    def per_device(self) -> bool:
        """Whether the gate reads a device's own schedule (so it differs device by device)."""
        return self.local_time_from is not None or self.outside_local_time_from is not None


class Threshold(_Strict):
    """A numeric field (or a windowed aggregate of it) above or below a limit, with hysteresis.

    ``clear`` is where an active alert lets go: fire above 1.0, clear below 0.8. A list field
    such as ``approaches.queue_veh`` is reduced (``max`` by default) to one number per reading.
    ``aggregate: delta`` with ``samples: N`` is the change from the sample N-1 before the newest
    to the newest, when both lie within ``window`` (then the longest span allowed).
    """

    type: Literal["threshold"]
    field: str
    above: float | None = None
    below: float | None = None
    clear: float | None = None
    aggregate: Literal["last", "mean", "max", "min", "delta", "rate_per_min"] = "last"
    window: Duration | None = None
    reduce: Literal["max", "min", "mean", "sum"] = "max"
    samples: int | None = Field(default=None, ge=2, le=1_000)

    @model_validator(mode="after")
    def _check(self) -> Threshold:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        if self.clear is not None:
            if self.above is not None and self.clear > self.above:
                raise ValueError(f"clear {self.clear} must not exceed above {self.above}")
            if self.below is not None and self.clear < self.below:
                raise ValueError(f"clear {self.clear} must not be under below {self.below}")
        if (self.aggregate == "last") != (self.window is None):
            raise ValueError("'window' goes with an aggregate other than 'last', and only then")
        if self.window is not None and self.window <= timedelta(0):
            raise ValueError("'window' must be longer than zero")
        if self.samples is not None and self.aggregate != "delta":
            raise FieldProblem(("samples",), "'samples' goes with aggregate 'delta' only")
        return self


class State(_Strict):
    """A field equal (or not equal) to a value, or a list field containing one."""

    type: Literal["state"]
    field: str
    equals: str | bool | float | None = None
    not_equals: str | bool | float | None = None
    contains: str | None = None

    @model_validator(mode="after")
    def _check(self) -> State:
        given = [n for n in ("equals", "not_equals", "contains") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'equals', 'not_equals' or 'contains'")
        return self


class Absent(_Strict):
    """No message at all from a device for ``after`` (a deadman)."""

    type: Literal["absent"]
    after: Duration


class Offline(_Strict):
    """The device's retained status says ``online: false`` (often its last will)."""

    type: Literal["offline"]


class EventRate(_Strict):
    """More than ``above`` events of one sort from a device within ``window``."""

    type: Literal["event_rate"]
    event: str
    where: dict[str, str | bool | float] = Field(default_factory=dict)
    window: Duration
    above: float = Field(ge=0)
    clear: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> EventRate:
        if self.clear is not None and self.clear > self.above:
            raise ValueError(f"clear {self.clear} must not exceed above {self.above}")
        if self.window <= timedelta(0):
            raise ValueError("'window' must be longer than zero")
        return self


class Fault(_Strict):
    """A latched fault event: it holds from an event matching ``where`` with ``active: true``
    until one with ``active: false`` for the same subject (the device, and the approach where
    the event names one: then the alert carries an ``approach`` label)::

        condition: {type: fault, event: traffic_signal_fault, where: {fault: lamp_out}}
    """

    type: Literal["fault"]
    event: str
    where: dict[str, str | bool | float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Fault:
        if "active" in self.where:
            raise FieldProblem(
                ("where", "active"), "'active' is what latches and clears a fault; leave it out"
            )
        return self


MemberCondition = Annotated[Threshold | State, Field(discriminator="type")]


class Group(_Strict):
    """At least ``at_least_pct`` of a group's devices meet ``member``: one alert for the group.

    Members silent for ``silent_after`` count as meeting it (a cut cabinet may take its
    controllers' radios down with the lamps).
    """

    type: Literal["group"]
    by: Literal[Placement, "district"]
    at_least_pct: float = Field(gt=0, le=100)
    min_devices: int = Field(default=1, ge=1)
    member: MemberCondition
    silent_after: Duration | None = None

    @model_validator(mode="after")
    def _check(self) -> Group:
        if isinstance(self.member, Threshold) and self.member.aggregate != "last":
            raise ValueError("a group member condition judges each device's latest reading")
        return self


class WaterClassBelowTarget(_Strict):
    """A station's reading puts it below its section's target class (GB 3838-2002)."""

    type: Literal["water_class"]


Condition = Annotated[
    Threshold | State | Absent | Offline | EventRate | Group | WaterClassBelowTarget | Fault,
    Field(discriminator="type"),
]


class Inhibit(_Strict):
    """While this rule fires, the named rules' alerts sharing ``equal`` labels stay pending."""

    rules: tuple[str, ...] = Field(min_length=1)
    equal: tuple[str, ...] = Field(min_length=1)


_SUMMARY_NAMES = frozenset(
    {"rule", "device", "district", "kind", "value", "severity", *GROUP_ATTRIBUTES}
)
_CONDITION_NAMES: dict[str, frozenset[str]] = {
    "group": frozenset({"members", "matching", "pct"}),
    "water_class": frozenset({"parameter", "water_class", "target_class", "graded"}),
    "absent": frozenset({"silent_s"}),
    "fault": frozenset({"approach", "detail"}),
}
_SAMPLED = (Threshold, State, WaterClassBelowTarget)
"""Conditions judged on a device's own samples: ``for_samples`` counts them (a group is judged
from its members' states and their silence, as time passes)."""
_LAST_VALUE = (State, WaterClassBelowTarget, Group)
"""Conditions on a device's latest reading (and threshold with ``aggregate: last``):
``stale_after`` ages them."""


class Rule(_Strict):
    """One alert rule.

    ``for`` is how long a condition must hold before the alert fires, and ``for_samples`` how
    many samples in a row must match: a pending alert fires only on a fresh matching sample once
    both are met. ``stale_after`` ages a last-value condition's reading out (pending resets,
    firing resolves); ``keep_firing_for`` keeps a firing alert firing that long after its
    condition stops holding (Prometheus' semantics).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=RULE_NAME)
    kind: Kind
    select: Selector = Field(default_factory=Selector)
    severity: Severity
    labels: dict[Annotated[str, Field(pattern=LABEL_NAME)], str] = Field(default_factory=dict)
    summary: str = Field(min_length=1, max_length=512)
    runbook: str = Field(pattern=r"^(https?://|file:|/)\S+$")
    description: str = ""
    for_: Duration = Field(default=timedelta(0), alias="for")
    for_samples: int = Field(default=1, ge=1, le=10_000)
    stale_after: Duration | None = None
    keep_firing_for: Duration = timedelta(0)
    when: When | None = None
    condition: Condition
    inhibits: Inhibit | None = None

    @model_validator(mode="after")
    def _check(self) -> Rule:
        condition = self.condition
        if isinstance(condition, Threshold | State):
            _check_field(self.kind, condition, ("condition", "field"))
        if isinstance(condition, Group):
            _check_field(self.kind, condition.member, ("condition", "member", "field"))
            if self.kind is not Kind.STREETLIGHT and condition.by == "cabinet":
                raise FieldProblem(("condition", "by"), "group by 'cabinet' needs kind streetlight")
        if isinstance(condition, EventRate | Fault):
            _check_event(self.kind, condition)
        if self.for_samples > 1 and not isinstance(condition, _SAMPLED):
            raise FieldProblem(
                ("for_samples",),
                f"'for_samples' counts samples; a {condition.type} condition has none",
            )
        if self.stale_after is not None:
            last_value = isinstance(condition, _LAST_VALUE) or (
                isinstance(condition, Threshold) and condition.aggregate == "last"
            )
            if not last_value:
                raise FieldProblem(
                    ("stale_after",),
                    "'stale_after' ages a latest reading: threshold with aggregate last, "
                    f"state, water_class or group, not {_shown(condition)}",
                )
            if self.stale_after <= timedelta(0):
                raise FieldProblem(("stale_after",), "'stale_after' must be longer than zero")
        if self.when is not None:
            for gate in ("local_time_from", "outside_local_time_from"):
                attribute = getattr(self.when, gate)
                if attribute is not None and SCHEDULE_ATTRIBUTES[attribute] is not self.kind:
                    raise FieldProblem(
                        ("when", gate),
                        f"{attribute!r} is a {SCHEDULE_ATTRIBUTES[attribute].value} field, "
                        f"not a {self.kind.value} one",
                    )
        if isinstance(condition, WaterClassBelowTarget) and self.kind is not Kind.WATER_QUALITY:
            raise FieldProblem(("condition", "type"), "water_class needs kind water_quality")
        allowed = _SUMMARY_NAMES | set(self.labels) | _CONDITION_NAMES.get(condition.type, set())
        for _, name, _, _ in string.Formatter().parse(self.summary):
            if name is None:
                continue
            if not re.fullmatch(r"[a-z_]+", name):
                raise FieldProblem(("summary",), f"placeholder {{{name}}} must be a plain name")
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise FieldProblem(
                    ("summary",), f"placeholder {{{name}}} is unknown; known: {known}"
                )
        return self


def _shown(condition: Any) -> str:
    if isinstance(condition, Threshold):
        return f"threshold with aggregate {condition.aggregate}"
    return str(condition.type)


def _field_annotation(model: type[BaseModel], path: str) -> tuple[Any, bool] | None:
    """The annotation of a (dotted) field and whether it sits inside a list."""
    head, _, rest = path.partition(".")
    info = model.model_fields.get(head)
    if info is None:
        return None
    if not rest:
        return info.annotation, False
    inner = getattr(info.annotation, "__args__", ())
    for candidate in inner:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            found = _field_annotation(candidate, rest)
            return (found[0], True) if found else None
    return None


def _check_field(kind: Kind, condition: Threshold | State, where: tuple[str, ...]) -> None:
    model = TELEMETRY_MODELS[kind]
    found = _field_annotation(model, condition.field)
    if found is None:
        raise FieldProblem(where, f"{kind.value} telemetry has no field {condition.field!r}")
    annotation, _ = found
    if isinstance(condition, Threshold) and annotation not in (float, int):
        raise FieldProblem(
            where, f"field {condition.field!r} is not a number; use a state condition"
        )


def _check_event(kind: Kind, condition: EventRate | Fault) -> None:
    models = {model.measurement: model for model in EVENT_MODELS[kind]}
    model = models.get(condition.event)
    if model is None:
        known = ", ".join(models) or "none"
        raise FieldProblem(
            ("condition", "event"), f"{kind.value} has no event {condition.event!r}; known: {known}"
        )
    if isinstance(condition, Fault) and "active" not in model.model_fields:
        raise FieldProblem(
            ("condition", "event"), f"event {condition.event!r} has no 'active' to latch on"
        )
    for name, wanted in condition.where.items():
        if name not in model.model_fields:
            raise FieldProblem(
                ("condition", "where", name), f"event {condition.event!r} has no field {name!r}"
            )
        values = _enum_values(model.model_fields[name].annotation)
        if values and str(wanted) not in values:
            raise FieldProblem(
                ("condition", "where", name),
                f"{name} {wanted!r} is not one of {', '.join(values)}",
            )


def _enum_values(annotation: Any) -> tuple[str, ...]:
    """The values an enum-typed field takes (``()`` for any other type)."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return tuple(str(member.value) for member in candidate)
    return ()


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A validated, cross-checked set of rules and the files they came from."""

    rules: tuple[Rule, ...]
    sources: tuple[str, ...]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def by_name(self, name: str) -> Rule:
        """The rule called ``name``; ``KeyError`` when there is none."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


def rule_files(path: str | Path) -> list[Path]:
    """The rule files of a path: the file itself, or a folder's ``*.yaml`` (not its tests)."""
    target = Path(path)
    if target.is_dir():
        return sorted(
            file
            for file in [*target.glob("*.yaml"), *target.glob("*.yml")]
            if not file.name.endswith((".test.yaml", ".test.yml"))
        )
    return [target]


def parse_rules(text: str, where: str) -> list[tuple[Rule, int | None]]:
    """Validate one file's text; each rule comes with its line. Errors name file and line."""
    try:
        document = load_with_lines(text)
    except yaml.YAMLError as exc:
        reason, line = yaml_problem(exc)
        raise RuleFileInvalid(where, reason, line=line) from exc
    if document is None:
        return []
    if not isinstance(document, dict) or "rules" not in document:
        raise RuleFileInvalid(where, "expected a mapping with a 'rules' list", line=1)
    unknown = sorted(str(key) for key in strip_lines(document) if key != "rules")
    if unknown:
        raise RuleFileInvalid(
            where, f"unknown top-level key {unknown[0]!r}", line=line_of(document, [unknown[0]])
        )
    entries = document["rules"] or []
    if not isinstance(entries, list):
        raise RuleFileInvalid(where, "'rules' must be a list", line=line_of(document, ["rules"]))
    parsed: list[tuple[Rule, int | None]] = []
    for index, entry in enumerate(entries):
        line = line_of(document, ["rules", index])
        if not isinstance(entry, dict):
            raise RuleFileInvalid(where, f"rule #{index + 1} is not a mapping", line=line)
        name = entry.get("name")
        rule_name = name if isinstance(name, str) else f"#{index + 1}"
        try:
            rule = Rule.model_validate(strip_lines(entry))
        except ValidationError as exc:
            problem = validation_problems(exc, skip=_UNION_TAGS)[0]
            location = list(problem.location)
            raised = problem.context.get("error")
            if isinstance(raised, FieldProblem):
                location.extend(raised.field)
            raise RuleFileInvalid(
                where,
                problem.message,
                line=line_of(entry, location) or line,
                rule=rule_name,
                field=".".join(str(part) for part in location) or None,
            ) from None
        parsed.append((rule, line))
    return parsed


_UNION_TAGS = frozenset(
    {"threshold", "state", "absent", "offline", "event_rate", "group", "water_class", "fault"}
)
"""Pydantic puts a discriminated union's tag (``threshold``) in an error's location."""


def load_rules(path: str | Path) -> RuleSet:
    """Load a rule file, or every ``*.yaml`` rule file of a folder, and cross-check them."""
    files = rule_files(path)
    if not files:
        raise RuleFileInvalid(str(path), "no rule files (*.yaml) found")
    seen: dict[str, tuple[str, int | None]] = {}
    rules: list[Rule] = []
    for file in files:
        where = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleFileInvalid(where, f"cannot read: {exc.strerror or exc}") from exc
        for rule, line in parse_rules(text, where):
            if rule.name in seen:
                first_file, first_line = seen[rule.name]
                raise RuleFileInvalid(
                    where,
                    f"rule name already used at {first_file}:{first_line}",
                    line=line,
                    rule=rule.name,
                    field="name",
                )
            seen[rule.name] = (where, line)
            rules.append(rule)
    for rule in rules:
        for target in rule.inhibits.rules if rule.inhibits else ():
            if target not in seen:
                where, line = seen[rule.name]
                raise RuleFileInvalid(
                    where,
                    f"undefined rule {target!r} in inhibits",
                    line=line,
                    rule=rule.name,
                    field="inhibits.rules",
                )
    return RuleSet(tuple(rules), tuple(str(file) for file in files))


def rules_of(rule_set: RuleSet, names: Sequence[str]) -> list[Rule]:
    """The rules called ``names``, in the set's order."""
    wanted = set(names)
    return [rule for rule in rule_set if rule.name in wanted]
