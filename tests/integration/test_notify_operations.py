"""`smartcity alerts silence|silences|unsilence|ack|list` against a real Alertmanager: silences
live there and nowhere else; an acknowledgement silences exactly its alert until it resolves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from alerts import (
    AckSilenceExpirer,
    Alert,
    AlertmanagerAPI,
    AlertmanagerNotifier,
    AlertStore,
    ChangeKind,
    Transition,
)
from devices import Kind
from smartcity.cli import app
from smartcity.local_alertmanager import LocalAlertmanager
from tests.alert_samples import lamp_alert, make_alert, notifier_config
from tests.support import WebhookReceiver, wait_for

runner = CliRunner()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager(
    make_alertmanager: Callable[..., LocalAlertmanager], hook: WebhookReceiver
) -> LocalAlertmanager:
    # a longer group_wait: the operator acts before Alertmanager would notify
    return make_alertmanager(webhook_url=hook.url, group_wait_s=3.0)


def send(url: str, *alerts: Alert) -> None:
    """What the engine's notifier does when these alerts fire."""

    async def run() -> None:
        async with AlertmanagerNotifier(notifier_config(url)) as notifier:
            notifier.track(alerts)
            await notifier.flush(10)

    asyncio.run(run())


def engine_state(path: Path, *alerts: Alert) -> None:
    """The engine's state file with these alerts firing."""
    with AlertStore(path) as store:
        store.record([Transition(alert, ChangeKind.FIRING) for alert in alerts])


def cli(*args: str) -> str:
    result = runner.invoke(app, ["alerts", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_silence_made_with_the_cli_mutes_matching_alerts_until_it_is_ended(alertmanager, hook):
    made = cli(
        "silence", "--match", "cabinet=C-02", "--match", "rule=~lamp-.*|streetlight-.*",
        "--for", "1h", "--comment", "planned works on C-02", "--by", "ana",
        "--alertmanager", alertmanager.url,
    )  # fmt: skip
    silence_id = made.split()[1]
    listed = [
        orjson.loads(line)
        for line in cli("silences", "--json", "--alertmanager", alertmanager.url).splitlines()
    ]
    assert [(s["id"], s["created_by"], s["comment"]) for s in listed] == [
        (silence_id, "ana", "planned works on C-02")
    ]
    assert sorted(listed[0]["matchers"]) == ["alertname=~lamp-.*|streetlight-.*", "cabinet=C-02"]
    muted, heard = lamp_alert("SL-0021", "C-02"), lamp_alert("SL-0031", "C-03")
    send(alertmanager.url, muted, heard)
    assert wait_for(lambda: len(hook.received("lighting")) == 1, timeout_s=20)
    time.sleep(4)
    (body,) = hook.received("lighting")
    assert [a["labels"]["device_id"] for a in body["alerts"]] == ["SL-0031"]
    ended = cli("unsilence", silence_id, "--alertmanager", alertmanager.url)
    assert ended.strip() == f"silence {silence_id} ended"
    assert cli("silences", "--json", "--alertmanager", alertmanager.url).strip() == ""
    assert wait_for(lambda: len(hook.received("lighting")) == 2, timeout_s=20)
    again = runner.invoke(
        app, ["alerts", "unsilence", silence_id, "--alertmanager", alertmanager.url]
    )
    assert again.exit_code == 1
    assert f"no silence {silence_id!r} in force" in again.output


def test_acknowledging_silences_exactly_that_alert_records_who_and_ends_when_it_resolves(
    alertmanager, hook, tmp_path
):
    state = tmp_path / "alerts.sqlite"
    taken = make_alert(
        "junction-jammed", {"device": "TS-0001", "junction": "J-01"}, team="traffic",
        kind=Kind.TRAFFIC_SIGNAL, summary="Junction J-01 jammed: longest queue 31 vehicles",
    )  # fmt: skip
    other = make_alert(
        "junction-jammed", {"device": "TS-0002", "junction": "J-01"}, team="traffic",
        kind=Kind.TRAFFIC_SIGNAL, summary="Junction J-01 jammed: longest queue 27 vehicles",
    )  # fmt: skip
    engine_state(state, taken, other)
    send(alertmanager.url, taken, other)
    out = cli(
        "ack", taken.fingerprint[:6], "--by", "ana", "--comment", "crew on site",
        "--state", str(state), "--alertmanager", alertmanager.url,
    )  # fmt: skip
    assert out.startswith(f"acknowledged {taken.fingerprint} (junction-jammed)")
    with AlertStore(state) as store:
        (ack,) = store.pending_acks()
    assert (ack.fingerprint, ack.acknowledged_by, ack.comment) == (
        taken.fingerprint,
        "ana",
        "crew on site",
    )
    (silence,) = asyncio.run(AlertmanagerAPI([alertmanager.url], timeout_s=5).silences())
    assert not any(m.is_regex or not m.is_equal for m in silence.matchers)
    assert {(m.name, m.value) for m in silence.matchers} == {
        ("alertname", "junction-jammed"), ("severity", "warning"), ("kind", "traffic_signal"),
        ("district", "centre"), ("team", "traffic"), ("device_id", "TS-0001"),
        ("junction", "J-01"),
    }  # fmt: skip
    assert silence.created_by == "ana"
    again = cli(
        "ack", taken.fingerprint, "--by", "bo", "--state", str(state),
        "--alertmanager", alertmanager.url,
    )  # fmt: skip
    assert f"silence {silence.id} holds" in again  # one silence, however often acknowledged
    assert len(asyncio.run(AlertmanagerAPI([alertmanager.url], timeout_s=5).silences())) == 1
    listed = {
        row["fingerprint"]: row
        for row in map(
            orjson.loads,
            cli(
                "list", "--json", "--state", str(state), "--alertmanager", alertmanager.url
            ).splitlines(),
        )
    }
    assert listed[taken.fingerprint]["silenced"] is True
    assert listed[other.fingerprint]["silenced"] is False
    # the group is notified with the other alert only; the acknowledged one stays quiet
    assert wait_for(lambda: len(hook.received("traffic")) == 1, timeout_s=20)
    (body,) = hook.received("traffic")
    assert [a["labels"]["device_id"] for a in body["alerts"]] == ["TS-0002"]

    # the alert resolves: the engine no longer holds it, its acknowledgement silence goes
    api = AlertmanagerAPI([alertmanager.url], timeout_s=5)
    expirer = AckSilenceExpirer(api, lambda: [other.fingerprint], interval_s=60)
    assert asyncio.run(expirer.expire_moot()) == 1
    (silence,) = asyncio.run(api.silences())
    assert silence.state == "expired"
    assert asyncio.run(expirer.expire_moot()) == 0


def test_an_operator_gets_a_clear_error_when_alertmanager_is_down(tmp_path):
    result = runner.invoke(
        app,
        ["alerts", "silences", "--alertmanager", "http://127.0.0.1:9,http://127.0.0.1:10"],
    )
    assert result.exit_code == 1
    assert "no Alertmanager answered (http://127.0.0.1:9, http://127.0.0.1:10)" in result.output
