"""The default rule pack's own rule tests (config/rules/tests) run with the unit tests, and the
pack is checked against each kind's field cadence as the simulators state it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from alerts import RuleTestFileInvalid, load_rules, run_rule_tests
from alerts.rules import Absent, Group, Rule, State, Threshold, WaterClassBelowTarget
from devices import Kind
from simulators import FIELD_CADENCE
from simulators.water import LAB_FIELDS

PACK = Path(__file__).parents[3] / "config" / "rules"
PACK_TESTS = PACK / "tests"
REPORTS = run_rule_tests(PACK_TESTS)
RULES = list(load_rules(PACK))


@pytest.mark.parametrize("report", REPORTS, ids=[f"{Path(r.file).stem}: {r.name}" for r in REPORTS])
def test_default_pack(report):
    assert report.passed, "\n".join(report.failures)


def test_every_kind_of_the_pack_has_tests():
    assert {Path(report.file).name for report in REPORTS} == {
        "streetlight.test.yaml",
        "water_quality.test.yaml",
        "traffic_signal.test.yaml",
        "checkpoint.test.yaml",
    }


HOT_RULE = """\
rules:
  - name: hot
    kind: streetlight
    severity: warning
    summary: "{device} hot"
    runbook: https://runbooks.example/hot
    for: 10m
    condition: {type: threshold, field: lamp_temp_c, above: 80}
"""


def _report_period(rule: Rule) -> timedelta:
    """How often the field sends what a rule judges: the kind's period; for water, the
    analysers' period when the rule reads their values (the class is graded on them too)."""
    condition = rule.condition
    if rule.kind is Kind.WATER_QUALITY and (
        isinstance(condition, WaterClassBelowTarget)
        or (isinstance(condition, Threshold) and condition.field in LAB_FIELDS)
    ):
        seconds = FIELD_CADENCE.water_lab_s
    else:
        seconds = FIELD_CADENCE.period_s(rule.kind)
    assert seconds is not None
    return timedelta(seconds=seconds)


def _last_value(rule: Rule) -> bool:
    condition = rule.condition
    if isinstance(condition, Threshold):
        return condition.aggregate == "last"
    return isinstance(condition, State | WaterClassBelowTarget | Group)


@pytest.mark.parametrize("rule", [r for r in RULES if _last_value(r)], ids=lambda r: r.name)
def test_every_last_value_rule_goes_stale_after_more_than_one_report_period(rule):
    # a reading that never goes stale keeps an alert firing on a value from hours ago; one
    # that goes stale before the next report is due would drop every alert between reports
    assert rule.stale_after is not None, f"{rule.name} has no stale_after"
    assert rule.stale_after > _report_period(rule), rule.name


@pytest.mark.parametrize(
    "rule",
    [r for r in RULES if isinstance(r.condition, Absent | Group)],
    ids=lambda r: r.name,
)
def test_every_absence_window_outlasts_two_missed_reports(rule):
    condition = rule.condition
    window = condition.after if isinstance(condition, Absent) else condition.silent_after
    if window is None:
        pytest.fail(f"{rule.name}: a group rule without silent_after never sees dead radios")
    assert window > 2 * _report_period(rule), f"{rule.name}: {window} at {_report_period(rule)}"


@pytest.mark.parametrize(
    "rule",
    [
        r
        for r in RULES
        if r.kind is Kind.WATER_QUALITY
        and isinstance(r.condition, Threshold | State | WaterClassBelowTarget)
    ],
    ids=lambda r: r.name,
)
def test_every_water_rule_waits_for_a_second_sample(rule):
    # hourly and four-hourly samples: one fouled sample must not raise an alert
    assert rule.for_samples >= 2, rule.name


def _rules_expected_firing() -> set[str]:
    named: set[str] = set()
    for file in PACK_TESTS.glob("*.test.yaml"):
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
        for test in document["tests"]:
            for expectation in test["expect"]:
                named.update(item["rule"] for item in expectation.get("firing") or ())
    return named


def test_every_rule_of_the_pack_is_seen_firing_in_a_rule_test():
    missing = sorted({rule.name for rule in RULES} - _rules_expected_firing())
    assert missing == []


def test_a_field_given_as_null_is_left_out_of_the_message(tmp_path):
    (tmp_path / "nh3.yaml").write_text(
        """\
rules:
  - name: nh3
    kind: water_quality
    severity: warning
    summary: "{device} NH3-N {value}"
    runbook: https://runbooks.example/nh3
    condition: {type: threshold, field: ammonia_mg_l, above: 1}
"""
    )
    (tmp_path / "nh3.test.yaml").write_text(
        """\
rule_files: [nh3.yaml]
registry:
  devices:
    - {id: WQ-1, kind: water_quality, district: d, river: r, section: S1, section_order: 1,
       target_class: III}
start: "2026-06-21T00:00:00+08:00"
tests:
  - name: the hourly sample without the analysers' values says nothing of ammonia
    series: [{device: WQ-1, every: 1h, until: 2h, cycle: {ammonia_mg_l: [2.0, null]}}]
    expect:
      - {at: 0h, firing: [{rule: nh3, summary_contains: "NH3-N 2.0"}]}
      - {at: 1h, firing: [{rule: nh3, summary_contains: "NH3-N 2.0"}]}
"""
    )
    (report,) = run_rule_tests(tmp_path / "nh3.test.yaml")
    assert report.failures == []


def test_a_rule_test_that_expects_the_wrong_thing_fails_and_says_what(tmp_path):
    (tmp_path / "hot.yaml").write_text(HOT_RULE)
    (tmp_path / "hot.test.yaml").write_text(
        """\
rule_files: [hot.yaml]
registry:
  devices: [{id: SL-1, kind: streetlight, district: d, cabinet: C-1}]
start: "2026-06-21T10:00:00+08:00"
tests:
  - name: fires too early
    series: [{device: SL-1, every: 1m, until: 30m, fields: {lamp_temp_c: 90}}]
    expect:
      - {at: 5m, firing: [{rule: hot, labels: {device: SL-1}}]}
      - {at: 20m, firing: []}
"""
    )
    (report,) = run_rule_tests(tmp_path / "hot.test.yaml")
    assert report.failures == [
        "at 5m: expected firing hot{device=SL-1}, not found",
        "at 20m: unexpected firing hot{cabinet=C-1,device=SL-1,district=d}",
    ]


def test_a_series_a_device_could_not_send_is_an_error(tmp_path):
    (tmp_path / "hot.yaml").write_text(HOT_RULE)
    (tmp_path / "hot.test.yaml").write_text(
        """\
rule_files: [hot.yaml]
registry:
  devices: [{id: SL-1, kind: streetlight, district: d, cabinet: C-1}]
start: "2026-06-21T10:00:00+08:00"
tests:
  - name: impossible
    series: [{device: SL-1, every: 1m, until: 3m, fields: {lamp_temp_c: 900}}]
    expect: [{at: 1m, firing: []}]
"""
    )
    with pytest.raises(RuleTestFileInvalid, match="lamp_temp_c 900 out of range"):
        run_rule_tests(tmp_path / "hot.test.yaml")


def test_a_bad_test_file_names_the_test_and_line(tmp_path):
    (tmp_path / "hot.yaml").write_text(HOT_RULE)
    (tmp_path / "hot.test.yaml").write_text(
        """\
rule_files: [hot.yaml]
registry: {devices: []}
start: "2026-06-21T10:00:00+08:00"
tests:
  - name: typo
    expect: [{at: 1m, firing: [], pendin: []}]
"""
    )
    with pytest.raises(RuleTestFileInvalid) as caught:
        run_rule_tests(tmp_path / "hot.test.yaml")
    assert caught.value.line == 6
    assert "test 'typo'" in str(caught.value)
