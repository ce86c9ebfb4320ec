"""Acknowledgements and silences over the API, through a real Alertmanager: the same operations
as `smartcity alerts ack|silence|silences|unsilence`; a refused call makes no silence."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import alerts
import devices
from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.stack import LocalMosquitto
from tests.integration.api_harness import NOW, alert, demo_registry, record_changes, running_api

REGISTRY = demo_registry()


@pytest.fixture(autouse=True)
def every_log_call_runs(caplog: pytest.LogCaptureFixture) -> None:
    """Log calls run as in production (a bad ``extra`` key raises only when a record is made)."""
    caplog.set_level(logging.DEBUG)


def firing_lamp() -> alerts.Alert:
    return alert(
        "lamp-out",
        kind=devices.Kind.STREETLIGHT,
        district="centre",
        severity="warning",
        device="SL-0001",
        fired_at=NOW,
    )


async def test_an_operator_acknowledges_an_alert_and_a_reader_cannot(
    tmp_path: Path,
    mosquitto: LocalMosquitto,
    make_alertmanager: Callable[..., LocalAlertmanager],
) -> None:
    manager = make_alertmanager()
    lamp = firing_lamp()
    async with running_api(
        tmp_path, mosquitto.url, REGISTRY, alertmanager_url=manager.url
    ) as harness:
        record_changes(harness.alert_store, [(lamp, alerts.ChangeKind.FIRING)])
        async with harness.client() as client:
            path = f"/alerts/{lamp.fingerprint[:8]}/ack"
            refused = await client.post(
                path, json={"comment": "on it"}, headers=harness.headers("read")
            )
            none = await client.get("/silences", headers=harness.headers("read"))
            done = await client.post(
                path, json={"comment": "crew on site"}, headers=harness.headers("operate")
            )
            held = await client.get("/silences", headers=harness.headers("read"))
            unknown = await client.post(
                "/alerts/ffffffff/ack", json={"comment": "x"}, headers=harness.headers("operate")
            )
            empty = await client.post(
                path, json={"comment": ""}, headers=harness.headers("operate")
            )
    assert refused.status_code == 403
    assert none.json() == []
    assert done.status_code == 200, done.text
    ack = done.json()
    assert (ack["fingerprint"], ack["by"], ack["comment"]) == (
        lamp.fingerprint,
        "operate-user",
        "crew on site",
    )
    [silence] = held.json()
    assert silence["id"] == ack["silence_id"]
    assert silence["created_by"] == "operate-user"
    assert "crew on site" in silence["comment"]
    assert {"name": "alertname", "value": "lamp-out", "is_regex": False, "is_equal": True} in (
        silence["matchers"]
    )
    assert unknown.status_code == 404
    assert "ffffffff" in unknown.json()["detail"]
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["field"] == "comment"


async def test_silences_are_made_listed_and_ended_in_alertmanager(
    tmp_path: Path,
    mosquitto: LocalMosquitto,
    make_alertmanager: Callable[..., LocalAlertmanager],
) -> None:
    manager = make_alertmanager()
    body = {
        "matchers": [
            {"name": "alertname", "value": "lamp-out"},
            {"name": "cabinet", "value": "C-02"},
        ],
        "duration_s": 7200,
        "comment": "road works",
    }
    async with (
        running_api(tmp_path, mosquitto.url, REGISTRY, alertmanager_url=manager.url) as harness,
        harness.client() as client,
    ):
        refused = await client.post("/silences", json=body, headers=harness.headers("read"))
        bad = await client.post(
            "/silences", json={**body, "matchers": []}, headers=harness.headers("operate")
        )
        made = await client.post("/silences", json=body, headers=harness.headers("operate"))
        listed = await client.get("/silences", headers=harness.headers("read"))
        silence_id = made.json()["id"]
        reader_end = await client.delete(f"/silences/{silence_id}", headers=harness.headers("read"))
        ended = await client.delete(f"/silences/{silence_id}", headers=harness.headers("operate"))
        after = await client.get("/silences", headers=harness.headers("read"))
        kept = await client.get("/silences?include_expired=true", headers=harness.headers("read"))
        again = await client.delete(f"/silences/{silence_id}", headers=harness.headers("operate"))
    assert refused.status_code == 403
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "matchers"
    assert made.status_code == 201, made.text
    assert (made.json()["created_by"], made.json()["comment"]) == ("operate-user", "road works")
    assert [s["id"] for s in listed.json()] == [silence_id]  # the read-scoped refusal made none
    assert reader_end.status_code == 403
    assert ended.status_code == 204
    assert after.json() == []
    assert [(s["id"], s["state"]) for s in kept.json()] == [(silence_id, "expired")]
    assert again.status_code == 404


async def test_without_an_alertmanager_acknowledging_says_so(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    async with (
        running_api(tmp_path, mosquitto.url, REGISTRY) as harness,
        harness.client() as client,
    ):
        answer = await client.post(
            "/alerts/abc/ack", json={"comment": "x"}, headers=harness.headers("operate")
        )
    assert answer.status_code == 503
    assert "SMARTCITY_ALERTMANAGER_URL" in answer.json()["detail"]
