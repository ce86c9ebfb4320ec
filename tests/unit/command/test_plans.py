"""Response plans and incident rules: the shipped ones load, bad ones are named by file:line."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from command import PlanFileInvalid, load_incident_rules, load_plan, load_plans
from tests.unit.command.factory import ROOT

GOOD = """\
name: cabinet-power-cut
version: 2
incident_type: lighting
title: Cabinet power cut
steps:
  - id: notify-crew
    title: Tell the crew
    do: notify
    notify: {team: lighting, text: "Cabinet {cabinet} dark"}
    within: 2m
  - id: dim
    title: Neighbours to 100 %
    do: command
    command: {action: dim, level_pct: 100, targets: neighbouring_groups}
"""


def write(tmp_path, text, name="plan.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_shipped_plans_cover_the_incidents_the_demo_scenarios_raise():
    plans = load_plans(ROOT / "config" / "plans")
    rules = load_incident_rules(ROOT / "config" / "incidents.yaml", plans)
    assert {opener.name: opener.plan for opener in rules.openers} == {
        "cabinet-power-cut": "cabinet-power-cut",
        "water-pollution": "pollution-spill",
        "junction-jam": "junction-jam",
    }
    assert [step.do for step in plans["pollution-spill"].steps][:2] == ["notify", "notify"]


def test_a_good_plan_loads_with_its_deadlines(tmp_path):
    plan = load_plan(write(tmp_path, GOOD))
    assert plan.reference == "cabinet-power-cut@2"
    assert plan.steps[0].within == timedelta(minutes=2)
    assert plan.steps[1].command is not None
    assert plan.steps[1].command.build("x").level_pct == 100


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "action: dim, level_pct: 100,",
            "action: dim,",
            "plan.yaml:14: steps.1.command: dim needs level_pct",
        ),
        ("within: 2m", "within: soon", "plan.yaml:10: steps.0.within: duration 'soon' is not"),
        (
            "    do: notify\n",
            "    do: shout\n",
            "plan.yaml:8: steps.0.do: Input should be 'person'",
        ),
        (
            '    notify: {team: lighting, text: "Cabinet {cabinet} dark"}\n',
            "",
            "plan.yaml:6: steps.0: a 'notify' step needs notify: {team, text}",
        ),
        ("id: dim\n", "id: notify-crew\n", "plan.yaml:1: step id 'notify-crew' is used twice"),
        ("version: 2", "version: 0", "plan.yaml:2: version: Input should be greater than"),
        (
            "targets: neighbouring_groups",
            "targets: everyone",
            "plan.yaml:14: steps.1.command.targets: Input should be",
        ),
        (
            "title: Cabinet power cut\n",
            "title: Cabinet power cut\ncolour: red\n",
            "plan.yaml:5: colour: Extra inputs",
        ),
        ("steps:", "steps: [", "plan.yaml:6: not valid YAML"),
    ],
)
def test_a_bad_plan_is_refused_naming_file_line_and_field(tmp_path, old, new, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(PlanFileInvalid) as refused:
        load_plan(path)
    assert str(refused.value).removeprefix(str(tmp_path) + "/").startswith(message)


def test_an_opener_naming_a_missing_plan_or_the_wrong_type_is_refused(tmp_path):
    plans = {"cabinet-power-cut": load_plan(write(tmp_path, GOOD))}
    rules = write(
        tmp_path,
        """\
        openers:
          - name: cut
            rules: [cabinet-power-lost]
            type: lighting
            group_by: [cabinet]
            plan: cabinet-power-cutt
            title: "Cabinet {cabinet}"
        """,
        "incidents.yaml",
    )
    with pytest.raises(PlanFileInvalid) as missing:
        load_incident_rules(rules, plans)
    assert str(missing.value) == (
        f"{rules}:6: openers.0.plan: unknown plan 'cabinet-power-cutt' (known: cabinet-power-cut)"
    )
    rules.write_text(
        rules.read_text().replace("cutt", "cut").replace("type: lighting", "type: traffic")
    )
    with pytest.raises(PlanFileInvalid) as wrong:
        load_incident_rules(rules, plans)
    assert str(wrong.value) == (
        f"{rules}:6: openers.0.plan: plan 'cabinet-power-cut' is for 'lighting' incidents,"
        " not 'traffic'"
    )


def test_an_opener_title_naming_a_label_it_does_not_group_by_is_refused(tmp_path):
    rules = write(
        tmp_path,
        """\
        openers:
          - name: cut
            rules: [cabinet-power-lost]
            type: lighting
            group_by: [cabinet]
            title: "Junction {junction}"
        """,
        "incidents.yaml",
    )
    with pytest.raises(PlanFileInvalid, match=r"incidents.yaml:2: openers.0: title uses junction"):
        load_incident_rules(rules, {})


def test_the_readme_shows_the_shipped_cabinet_plan_as_it_is():
    shipped = (ROOT / "config" / "plans" / "cabinet-power-cut.yaml").read_text(encoding="utf-8")
    body = "".join(line for line in shipped.splitlines(True) if not line.startswith("#"))
    assert body in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_error_example_is_what_plans_check_says(tmp_path):
    shipped = (ROOT / "config" / "plans" / "cabinet-power-cut.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "cabinet-power-cut.yaml"
    broken.write_text(shipped.replace("level_pct: 100, ", ""), encoding="utf-8")
    with pytest.raises(PlanFileInvalid) as refused:
        load_plan(broken)
    message = str(refused.value).removeprefix(str(tmp_path) + "/")
    assert f"`{message}`" in (ROOT / "README.md").read_text(encoding="utf-8")
