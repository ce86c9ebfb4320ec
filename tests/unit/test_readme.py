"""The README stays true for a newcomer: every setting, payload field, scenario and command it
should describe is there."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

import devices
from devices.payloads import Payload
from smartcity.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def payload_models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [Payload]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if "measurement" in vars(model):
            found.append(model)
    return found


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert f"SMARTCITY_{name.upper()}" in README


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (model.__name__, field)
        for model in payload_models()
        for field in model.model_fields
        if field not in {"ts", "seq", "device_id"}
    ],
)
def test_every_payload_field_is_in_the_readme(model: str, field: str) -> None:
    assert f"`{field}`" in README, f"{model}.{field}"


@pytest.mark.parametrize("kind", [kind.value for kind in devices.Kind])
def test_every_kind_and_its_measurements_are_in_the_readme(kind: str) -> None:
    assert f"`{kind}`" in README


@pytest.mark.parametrize(
    "scenario", sorted(p.stem for p in (ROOT / "config/scenarios").glob("*.yaml"))
)
def test_every_shipped_scenario_is_named_in_the_readme(scenario: str) -> None:
    assert scenario in README


@pytest.mark.parametrize(
    "command",
    [
        "up",
        "gateway",
        "status",
        "simulate",
        "rules",
        "alerts",
        "incidents",
        "plans",
        "bench",
        "dashboards",
        "devices credentials",
        "certs",
    ],
)
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"smartcity {command}" in README


def test_the_readme_starts_with_what_it_is_then_the_two_commands() -> None:
    what = README.index("IoT sensing and monitoring platform")
    up = README.index("make up")
    test = README.index("make test")
    assert what < up < test
