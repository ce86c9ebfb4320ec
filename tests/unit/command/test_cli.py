"""`smartcity incidents ...` and `smartcity plans check` as an operator types them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from smartcity.cli import app
from tests.unit.command.factory import ROOT

runner = CliRunner()


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTCITY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMARTCITY_REGISTRY_PATH", str(ROOT / "config" / "fleet.yaml"))
    monkeypatch.setenv("SMARTCITY_PLANS_PATH", str(ROOT / "config" / "plans"))
    monkeypatch.setenv("SMARTCITY_INCIDENTS_RULES_PATH", str(ROOT / "config" / "incidents.yaml"))
    return tmp_path / "incidents.sqlite"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_an_operator_takes_an_incident_from_open_to_closed(state):
    assert run(
        "incidents",
        "open",
        "lighting",
        "--title",
        "Cabinet C-04 dark",
        "--district",
        "harbour",
        "--group",
        "cabinet=C-04",
        "--by",
        "li.wei",
    ) == (0, "opened #1: Cabinet C-04 dark (plan cabinet-power-cut@1)\n")
    assert run("incidents", "take", "1", "--by", "li.wei") == (
        0,
        "#1 open: li.wei took the incident\n",
    )
    assert run("incidents", "status", "1", "dispatched", "--by", "li.wei")[0] == 0
    assert run("incidents", "note", "1", "crew left the depot", "--by", "li.wei") == (
        0,
        "#1 dispatched: crew left the depot\n",
    )
    assert (
        run("incidents", "step-done", "1", "send-crew", "--comment", "van 3", "--by", "zhang")[0]
        == 0
    )
    assert run("incidents", "status", "1", "on_site", "--by", "zhang")[0] == 0
    assert run("incidents", "status", "1", "resolved", "--by", "zhang")[0] == 0
    assert run("incidents", "close", "1", "--report", "fuse replaced", "--by", "li.wei") == (
        0,
        "#1 closed: closed: fuse replaced\n",
    )
    code, output = run("incidents", "show", "1", "--json")
    assert code == 0
    document = json.loads(output)
    assert document["status"] == "closed"
    assert document["progress"] == {"done": 1, "total": 4}
    assert [(e["actor"], e["kind"]) for e in document["timeline"]] == [
        ("li.wei", "opened"),
        ("li.wei", "assigned"),
        ("li.wei", "status"),
        ("li.wei", "note"),
        ("zhang", "step"),
        ("zhang", "status"),
        ("zhang", "status"),
        ("li.wei", "status"),
    ]
    assert run("incidents", "list", "--json") == (0, "")
    code, output = run("incidents", "list", "--all", "--json")
    assert json.loads(output)["id"] == 1


def test_a_refused_change_is_an_error_line_and_exit_status_1(state):
    run("incidents", "open", "lighting", "--title", "dark", "--district", "harbour")
    code, output = run("incidents", "status", "1", "on_site")
    assert code == 1
    assert "error: incident #1 is open: cannot go to on_site (allowed: dispatched, resolved)" in (
        output
    )
    code, output = run("incidents", "close", "7", "--report", "x")
    assert (code, "error: no incident #7" in output) == (1, True)
    code, output = run(
        "incidents", "open", "lighting", "--title", "x", "--district", "harbour", "--plan", "nope"
    )
    assert code == 1
    assert "error: no plan 'nope' (known: cabinet-power-cut, junction-jam, pollution-spill)" in (
        output
    )


def test_plans_check_accepts_the_shipped_plans():
    assert run("plans", "check", str(ROOT / "config" / "plans")) == (0, "ok: 3 plan(s)\n")


def test_plans_check_names_every_bad_file_and_a_name_used_twice(tmp_path):
    good = (ROOT / "config" / "plans" / "junction-jam.yaml").read_text()
    (tmp_path / "a.yaml").write_text(good)
    (tmp_path / "b.yaml").write_text(good)
    (tmp_path / "c.yaml").write_text(good.replace("plan_id: 2", "plan_id: 300"))
    code, output = run("plans", "check", str(tmp_path))
    assert code == 1
    assert f"error: {tmp_path / 'b.yaml'}:1: plan name 'junction-jam' is used by" in output
    assert f"error: {tmp_path / 'c.yaml'}:11: steps.0.command.plan_id: Input should be less" in (
        output
    )
