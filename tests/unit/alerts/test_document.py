"""One alert document for MQTT subscribers, webhooks and the operators' JSON listing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
from typer.testing import CliRunner

from alerts import Alert, AlertChange, AlertStore, ChangeKind, alert_document, change_document
from smartcity.cli import app
from tests.unit.alerts.factory import T0, evaluator, observe, rule


def firing_alert_in(path: Path) -> Alert:
    ev = evaluator(rule("streetlight", "{type: threshold, field: lamp_temp_c, above: 80}"))
    transitions = ev.observe(observe("SL-1", T0, lamp_temp_c=90))
    with AlertStore(path) as store:
        store.record(transitions)
    return ev.active()[0]


def test_a_change_document_is_the_change_then_the_alert_document(tmp_path: Path) -> None:
    alert = firing_alert_in(tmp_path / "alerts.sqlite")
    at = T0 + timedelta(seconds=5)
    document = change_document(AlertChange(alert, ChangeKind.FIRING, at))
    assert document == {
        "change": "firing",
        "at": at.isoformat(),
        "reannounced": False,
        **alert_document(alert),
    }
    # silences are Alertmanager's: the engine's announcement does not pretend to know them
    assert "silenced" not in document
    assert document["starts_at"] == alert.starts_at.isoformat()
    assert document["ends_at"] is None
    assert (document["district"], document["kind"]) == (alert.district, "streetlight")


def test_a_reannounced_change_says_so() -> None:
    alert = firing_alert_in_memory()
    change = AlertChange(alert, ChangeKind.FIRING, T0, reannounced=True)
    assert change_document(change)["reannounced"] is True


def firing_alert_in_memory() -> Alert:
    ev = evaluator(rule("streetlight", "{type: threshold, field: lamp_temp_c, above: 80}"))
    ev.observe(observe("SL-1", T0, lamp_temp_c=90))
    return ev.active()[0]


def test_the_json_listing_prints_the_same_document(tmp_path: Path) -> None:
    state = tmp_path / "alerts.sqlite"
    alert = firing_alert_in(state)
    result = CliRunner().invoke(app, ["alerts", "list", "--state", str(state), "--json"])
    assert result.exit_code == 0, result.output
    (listed,) = [orjson.loads(line) for line in result.output.splitlines()]
    with AlertStore(state) as store:
        (stored,) = store.alerts()
    assert stored.fingerprint == alert.fingerprint
    # the same document, with Alertmanager's verdict (none here: no Alertmanager is configured)
    verdict = {name: listed.pop(name) for name in ("inhibited", "silenced_by")}
    assert listed == alert_document(stored, silenced=False)
    assert verdict == {"inhibited": False, "silenced_by": []}
