"""Rule files load strictly; errors name the file, line, rule and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts import RuleFileInvalid, format_duration, load_rules, parse_duration

GOOD = """\
rules:
  - name: hot
    kind: streetlight
    severity: warning
    summary: "{device} at {value}"
    runbook: https://runbooks.example/hot
    for: 10m
    condition: {type: threshold, field: lamp_temp_c, above: 80, clear: 70}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> RuleFileInvalid:
    with pytest.raises(RuleFileInvalid) as caught:
        load_rules(path)
    return caught.value


def test_the_default_pack_loads():
    rules = load_rules(Path(__file__).parents[3] / "config" / "rules")
    names = {rule.name for rule in rules}
    assert {"cabinet-power-lost", "water-below-target-class", "junction-jammed"} <= names
    assert {rule.kind.value for rule in rules} == {
        "streetlight",
        "water_quality",
        "traffic_signal",
        "checkpoint",
    }


def test_a_good_rule_keeps_its_fields(tmp_path):
    (rule,) = load_rules(write(tmp_path, "r.yaml", GOOD))
    assert rule.for_ == timedelta(minutes=10)
    assert rule.condition.type == "threshold"


def test_an_unknown_field_names_file_line_rule_and_field(tmp_path):
    path = write(tmp_path, "r.yaml", GOOD.replace("clear: 70", "clear: 70, abve: 3"))
    error = error_of(path)
    assert error.path == str(path)
    assert error.line == 8
    assert error.rule == "hot"
    assert error.field == "condition.abve"
    assert str(error).startswith(f"{path}:8: rule 'hot': field 'condition.abve': ")


def test_a_field_the_kind_does_not_have_is_refused(tmp_path):
    error = error_of(write(tmp_path, "r.yaml", GOOD.replace("lamp_temp_c", "ammonia_mg_l")))
    assert "streetlight telemetry has no field 'ammonia_mg_l'" in str(error)
    assert error.line == 8


def test_a_threshold_on_a_non_number_is_refused(tmp_path):
    error = error_of(write(tmp_path, "r.yaml", GOOD.replace("lamp_temp_c", "lamp_on")))
    assert "is not a number" in str(error)


def test_clear_on_the_wrong_side_is_refused(tmp_path):
    error = error_of(write(tmp_path, "r.yaml", GOOD.replace("clear: 70", "clear: 90")))
    assert "clear 90.0 must not exceed above 80.0" in str(error)


def test_a_bad_duration_names_the_field(tmp_path):
    error = error_of(write(tmp_path, "r.yaml", GOOD.replace("for: 10m", "for: ten minutes")))
    assert error.field == "for"
    assert error.line == 7
    assert "'ten minutes' is not like" in str(error)


def test_an_unknown_summary_placeholder_is_refused(tmp_path):
    error = error_of(write(tmp_path, "r.yaml", GOOD.replace("{value}", "{valeu}")))
    assert error.field == "summary"
    assert "placeholder {valeu} is unknown" in str(error)


def test_the_same_rule_name_in_two_files_names_both(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    error = error_of(tmp_path)
    assert error.path == str(tmp_path / "b.yaml")
    assert f"already used at {tmp_path / 'a.yaml'}:2" in str(error)


def test_an_inhibit_naming_no_rule_is_refused(tmp_path):
    text = GOOD + "    inhibits: {rules: [nothing-here], equal: [device]}\n"
    error = error_of(write(tmp_path, "r.yaml", text))
    assert "undefined rule 'nothing-here' in inhibits" in str(error)
    assert error.field == "inhibits.rules"


def test_broken_yaml_names_the_line(tmp_path):
    error = error_of(write(tmp_path, "r.yaml", GOOD + "  - name: [unclosed\n"))
    assert error.line == 9  # where the unclosed "[" is, not the end of the file it ran into
    assert "not valid YAML" in str(error)


def test_an_event_the_kind_does_not_send_is_refused(tmp_path):
    text = GOOD.replace(
        "{type: threshold, field: lamp_temp_c, above: 80, clear: 70}",
        "{type: event_rate, event: checkpoint_violation, window: 1h, above: 3}",
    )
    assert "streetlight has no event 'checkpoint_violation'" in str(
        error_of(write(tmp_path, "r.yaml", text))
    )


def test_a_rule_name_must_fit_the_alert_topic(tmp_path):
    error = error_of(write(tmp_path, "r.yaml", GOOD.replace("name: hot", "name: Hot/Lamp")))
    assert error.field == "name"


def test_rule_tests_are_not_taken_for_rules(tmp_path):
    write(tmp_path, "r.yaml", GOOD)
    write(tmp_path, "r.test.yaml", "not: rules")
    assert len(load_rules(tmp_path)) == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), (45, 45), ("500ms", 0.5)],
)
def test_durations_read_like_people_write_them(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "10", "m5", "1x", "-5m", True])
def test_nonsense_durations_are_refused(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_durations_format_back_to_their_short_form():
    assert format_duration(timedelta(hours=1, minutes=30)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"


SIGNAL = """\
rules:
  - name: sig
    kind: traffic_signal
    severity: warning
    summary: "{device}"
    runbook: https://runbooks.example/sig
    RULE_KEYS
    condition: CONDITION
"""


def signal_rule(tmp_path: Path, keys: str, condition: str) -> Path:
    text = SIGNAL.replace("RULE_KEYS", keys).replace("CONDITION", condition)
    return write(tmp_path, "r.yaml", text)


def test_the_new_rule_keys_load(tmp_path):
    path = signal_rule(
        tmp_path,
        "for: 10m\n    for_samples: 3\n    stale_after: 15m\n    keep_firing_for: 5m\n"
        "    when: {outside_local_time_from: flash_schedule}",
        "{type: state, field: mode, equals: flash}",
    )
    (rule,) = load_rules(path)
    assert rule.for_samples == 3
    assert rule.stale_after == timedelta(minutes=15)
    assert rule.keep_firing_for == timedelta(minutes=5)
    assert rule.when is not None
    assert rule.when.outside_local_time_from == "flash_schedule"


def test_a_latched_fault_and_a_delta_over_samples_load(tmp_path):
    path = signal_rule(
        tmp_path, "for: 0s", "{type: fault, event: traffic_signal_fault, where: {fault: lamp_out}}"
    )
    (rule,) = load_rules(path)
    assert rule.condition.type == "fault"
    water = GOOD.replace("streetlight", "water_quality").replace(
        "{type: threshold, field: lamp_temp_c, above: 80, clear: 70}",
        "{type: threshold, field: ammonia_mg_l, aggregate: delta, samples: 2, window: 5h,"
        " above: 0.5}",
    )
    (rule,) = load_rules(write(tmp_path, "w.yaml", water))
    assert rule.condition.samples == 2


@pytest.mark.parametrize(
    ("keys", "condition", "field", "message"),
    [
        (
            "for_samples: 0",
            "{type: state, field: mode, equals: flash}",
            "for_samples",
            "greater than or equal to 1",
        ),
        (
            "for_samples: 2",
            "{type: offline}",
            "for_samples",
            "'for_samples' counts samples; a offline condition has none",
        ),
        (
            "stale_after: 10m",
            "{type: absent, after: 5m}",
            "stale_after",
            "'stale_after' ages a latest reading",
        ),
        (
            "stale_after: 10m",
            "{type: threshold, field: cycle_s, aggregate: mean, window: 5m, above: 3}",
            "stale_after",
            "not threshold with aggregate mean",
        ),
        ("keep_firing_for: soon", "{type: offline}", "keep_firing_for", "is not like '90s'"),
        (
            "when: {outside_local_time_from: flash_plan}",
            "{type: offline}",
            "when.outside_local_time_from",
            "'flash_plan' is not a registry schedule field; known: flash_schedule",
        ),
        (
            "when: {local_time: 23:00-5:00}",
            "{type: offline}",
            "when.local_time",
            "local_time '23:00-5:00' is not HH:MM-HH:MM",
        ),
        (
            "for: 1m",
            "{type: fault, event: traffic_signal_fault, where: {fault: lamp_gone}}",
            "condition.where.fault",
            "fault 'lamp_gone' is not one of lamp_out, conflict",
        ),
        (
            "for: 1m",
            "{type: fault, event: traffic_signal_fault, where: {active: true}}",
            "condition.where.active",
            "'active' is what latches and clears a fault",
        ),
        (
            "for: 1m",
            "{type: threshold, field: cycle_s, aggregate: mean, window: 5m, samples: 3, above: 3}",
            "condition.samples",
            "'samples' goes with aggregate 'delta' only",
        ),
        (
            "for: 1m",
            "{type: threshold, field: cycle_s, aggregate: delta, window: 5m, samples: 1, above: 3}",
            "condition.samples",
            "greater than or equal to 2",
        ),
    ],
)
def test_the_new_keys_are_checked_naming_line_and_field(tmp_path, keys, condition, field, message):
    path = signal_rule(tmp_path, keys, condition)
    error = error_of(path)
    assert error.field == field
    assert error.line == (8 if field.startswith("condition") else 7)
    assert message in str(error)
    assert str(error).startswith(f"{path}:{error.line}: rule 'sig': field '{field}': ")


def test_a_schedule_gate_needs_a_kind_that_has_the_schedule(tmp_path):
    text = GOOD.replace("for: 10m", "when: {local_time_from: flash_schedule}")
    error = error_of(write(tmp_path, "r.yaml", text))
    assert error.field == "when.local_time_from"
    assert "'flash_schedule' is a traffic_signal field, not a streetlight one" in str(error)


def test_for_samples_is_refused_on_a_group(tmp_path):
    text = GOOD.replace("for: 10m", "for_samples: 2").replace(
        "{type: threshold, field: lamp_temp_c, above: 80, clear: 70}",
        "{type: group, by: cabinet, at_least_pct: 50,"
        " member: {type: state, field: lamp_on, equals: false}}",
    )
    error = error_of(write(tmp_path, "r.yaml", text))
    assert error.field == "for_samples"
    assert "a group condition has none" in str(error)
