"""The shipped Alertmanager config: Alertmanager's own checker accepts it (and the copy the
local stack runs), teams get their alerts, and its inhibitions name rules that exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from alerts import load_rules
from smartcity.local_alertmanager import render_alertmanager_config

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config" / "alertmanager.yml"
RULES = load_rules(ROOT / "config" / "rules")


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["amtool", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_amtool_check_config_accepts_the_shipped_config():
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout
    assert "SUCCESS" in result.stdout


def test_amtool_accepts_the_copy_the_local_stack_runs(tmp_path):
    rendered = tmp_path / "alertmanager.yml"
    rendered.write_text(
        render_alertmanager_config(
            CONFIG,
            smtp_smarthost="127.0.0.1:2525",
            webhook_url="http://127.0.0.1:8099/hooks/alertmanager",
            group_wait_s=1,
            group_interval_s=1,
        )
    )
    result = amtool("check-config", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr
    document = yaml.safe_load(rendered.read_text())
    urls = {
        hook["url"]
        for receiver in document["receivers"]
        for hook in receiver.get("webhook_configs", [])
    }
    assert urls == {"http://127.0.0.1:8099/hooks/alertmanager"}
    assert document["route"]["group_wait"] == "1s"
    assert document["global"]["smtp_smarthost"] == "127.0.0.1:2525"


def test_amtool_accepts_the_copy_that_presents_the_platforms_token(tmp_path):
    token = tmp_path / "alertmanager-api-token"
    token.write_text("sc_0123456789ab_secret")
    rendered = tmp_path / "alertmanager.yml"
    rendered.write_text(
        render_alertmanager_config(
            CONFIG,
            webhook_url="https://127.0.0.1:8000/hooks/alertmanager",
            webhook_credentials_file=token,
            webhook_ca_file=tmp_path / "api.crt",
        )
    )
    result = amtool("check-config", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr
    document = yaml.safe_load(rendered.read_text())
    configs = [
        hook["http_config"]
        for receiver in document["receivers"]
        for hook in receiver.get("webhook_configs", [])
    ]
    assert len(configs) == 8
    for http_config in configs:
        assert http_config["authorization"] == {"type": "Bearer", "credentials_file": str(token)}
        assert http_config["tls_config"] == {"ca_file": str(tmp_path / "api.crt")}


def test_a_broken_config_is_refused_by_amtool_naming_the_culprit(tmp_path):
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(CONFIG.read_text().replace("receiver: lighting-oncall", "receiver: lihgting"))
    result = amtool("check-config", str(broken))
    assert result.returncode != 0
    assert 'undefined receiver "lihgting"' in result.stdout + result.stderr


def routed(**labels: str) -> str:
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        *(f"{name}={value}" for name, value in labels.items()),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("rule", "receiver"),
    [
        ("lamp-failure", "lighting"),
        ("cabinet-power-lost", "lighting-oncall"),
        ("water-below-target-class", "water"),
        ("ammonia-rising-fast", "water-oncall"),
        ("junction-jammed", "traffic"),
        ("signal-dark", "traffic-oncall"),
        ("camera-offline", "checkpoints"),
        ("red-light-violations-high", "traffic"),
    ],
)
def test_each_rule_reaches_its_team(rule: str, receiver: str):
    found = RULES.by_name(rule)
    labels = {
        "alertname": rule,
        "severity": found.severity.value,
        "kind": found.kind.value,
        **found.labels,
    }
    assert routed(**labels) == receiver


def test_an_alert_of_no_team_reaches_the_control_centre():
    assert routed(alertname="something-new", severity="warning") == "control-centre"


def test_every_inhibition_names_rules_that_exist():
    document = yaml.safe_load(CONFIG.read_text())
    names = {rule.name for rule in RULES.rules}
    for inhibition in document["inhibit_rules"]:
        for matcher in inhibition["source_matchers"] + inhibition["target_matchers"]:
            name, operator, value = re.match(r'(\w+)(=~|=)"(.*)"', matcher).groups()
            if name != "alertname":
                continue
            pattern = re.compile(value if operator == "=~" else re.escape(value))
            assert any(pattern.fullmatch(rule) for rule in names), matcher
