"""`smartcity rules ...` and `smartcity alerts ...` as an operator types them."""

from __future__ import annotations

from datetime import timedelta
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
    assert "ok: 24 rules in 4 file(s)" in result.output


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


def test_alerts_ack_by_prefix_queues_an_acknowledgement(tmp_path):
    state = tmp_path / "alerts.sqlite"
    fp = firing_state(state)
    result = runner.invoke(
        app,
        [
            "alerts",
            "ack",
            fp[:6],
            "--by",
            "ana",
            "--comment",
            "crew on site",
            "--state",
            str(state),
        ],
    )
    assert result.exit_code == 0, result.output
    with AlertStore(state) as store:
        (ack,) = store.pending_acks()
    assert (ack.fingerprint, ack.acknowledged_by, ack.comment) == (fp, "ana", "crew on site")


def test_alerts_ack_of_an_unknown_alert_fails(tmp_path):
    state = tmp_path / "alerts.sqlite"
    firing_state(state)
    result = runner.invoke(app, ["alerts", "ack", "ffffff", "--state", str(state)])
    assert result.exit_code == 1
    assert "no firing alert" in result.output


def test_alerts_silence_and_unsilence(tmp_path):
    state = tmp_path / "alerts.sqlite"
    firing_state(state)
    result = runner.invoke(
        app,
        [
            "alerts",
            "silence",
            "--match",
            "rule=r",
            "--match",
            "device=SL-1",
            "--for",
            "30m",
            "--comment",
            "planned works",
            "--by",
            "ana",
            "--state",
            str(state),
        ],
    )
    assert result.exit_code == 0, result.output
    with AlertStore(state) as store:
        (found,) = store.silences()
    assert dict(found.matchers) == {"rule": "r", "device": "SL-1"}
    assert found.ends_at - found.starts_at == timedelta(minutes=30)
    listed = runner.invoke(app, ["alerts", "list", "--state", str(state), "--json"])
    assert '"silenced":true' in listed.output
    ended = runner.invoke(app, ["alerts", "unsilence", str(found.id), "--state", str(state)])
    assert ended.exit_code == 0
    listed = runner.invoke(app, ["alerts", "list", "--state", str(state), "--json"])
    assert '"silenced":false' in listed.output


def test_a_silence_without_label_value_is_refused(tmp_path):
    state = tmp_path / "alerts.sqlite"
    firing_state(state)
    result = runner.invoke(
        app, ["alerts", "silence", "--match", "device", "--comment", "x", "--state", str(state)]
    )
    assert result.exit_code == 1
    assert "is not label=value" in result.output
