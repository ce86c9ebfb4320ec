"""The default rule pack's own rule tests (config/rules/tests) run with the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import RuleTestFileInvalid, run_rule_tests

PACK_TESTS = Path(__file__).parents[3] / "config" / "rules" / "tests"
REPORTS = run_rule_tests(PACK_TESTS)


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


RULES = """\
rules:
  - name: hot
    kind: streetlight
    severity: warning
    summary: "{device} hot"
    runbook: https://runbooks.example/hot
    for: 10m
    condition: {type: threshold, field: lamp_temp_c, above: 80}
"""


def test_a_rule_test_that_expects_the_wrong_thing_fails_and_says_what(tmp_path):
    (tmp_path / "hot.yaml").write_text(RULES)
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
    (tmp_path / "hot.yaml").write_text(RULES)
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
    (tmp_path / "hot.yaml").write_text(RULES)
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
