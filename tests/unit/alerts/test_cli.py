"""`smartcity rules ...` and `smartcity alerts ...` as an operator types them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from alerts import AlertStore, Transition
from smartcity.cli import app
from tests.unit.alerts.factory import T0, evaluator, observe, rule

PACK = Path(__file__).parents[3] / "config" / "rules"
runner = CliRunner()


def test_rules_check_accepts_the_default_pack():
    result = runner.invoke(app, ["rules", "check", str(PACK)])
    assert result.exit_code == 0
    assert "ok: 33 rules in 4 file(s)" in result.output


def test_rules_check_names_the_culprit_and_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((PACK / "checkpoint.yaml").read_text().replace("above: 90", "abvoe: 90"))
    result = runner.invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert "rule 'camera-storage-full': field 'condition.abvoe'" in result.output


def test_rules_test_runs_the_pack_tests():
    result = runner.invoke(app, ["rules", "test", str(PACK / "tests")])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output


def firing_state(path: Path) -> str:
    """A state file with one firing alert; returns its fingerprint."""
    ev = evaluator(rule("streetlight", "{type: threshold, field: lamp_temp_c, above: 80}"))
    transitions: list[Transition] = ev.observe(observe("SL-1", T0, lamp_temp_c=90))
    with AlertStore(path) as store:
        store.record(transitions)
    return ev.active()[0].fingerprint


def test_alerts_list_shows_firing_alerts(tmp_path):
    state = tmp_path / "alerts.sqlite"
    fp = firing_state(state)
    result = runner.invoke(app, ["alerts", "list", "--state", str(state), "--json"])
    assert result.exit_code == 0
    assert f'"fingerprint":"{fp}"' in result.output
    assert '"state":"firing"' in result.output


def test_alerts_ack_of_an_unknown_alert_fails(tmp_path):
    state = tmp_path / "alerts.sqlite"
    firing_state(state)
    result = runner.invoke(
        app,
        ["alerts", "ack", "ffffff", "--state", str(state), "--alertmanager", "http://127.0.0.1:9"],
    )
    assert result.exit_code == 1
    assert "no firing alert" in result.output


def test_a_silence_without_label_value_is_refused(tmp_path):
    state = tmp_path / "alerts.sqlite"
    firing_state(state)
    result = runner.invoke(app, ["alerts", "silence", "--match", "device", "--comment", "x"])
    assert result.exit_code == 1
    assert "is not label=value" in result.output
