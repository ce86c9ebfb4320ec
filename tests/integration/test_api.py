"""The operators' API against the real Mosquitto and InfluxDB: tokens and scopes, bad bodies,
alerts from the engine's store, devices, health, and no stack trace ever."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import alerts
import devices
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.api_harness import (
    NOW,
    CommandProbe,
    Harness,
    alert,
    demo_registry,
    record_changes,
    running_api,
)
from tests.support import until

REGISTRY = demo_registry()
DIM = {"device_id": "SL-0001", "action": "dim", "level_pct": 30}


@pytest.fixture(autouse=True)
def every_log_call_runs(caplog: pytest.LogCaptureFixture) -> None:
    """Log calls run as in production (a bad ``extra`` key raises only when a record is made)."""
    caplog.set_level(logging.DEBUG)


@pytest.fixture
async def harness(
    tmp_path: Path, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> AsyncIterator[Harness]:
    async with running_api(tmp_path, mosquitto.url, REGISTRY, influx_url=influxdb.url) as found:
        yield found


@pytest.fixture
def probe(mosquitto: LocalMosquitto) -> Iterator[CommandProbe]:
    probe = CommandProbe(mosquitto.url)
    yield probe
    probe.close()


async def audited(harness: Harness) -> int:
    async with harness.client() as client:
        answer = await client.get("/commands", headers=harness.headers("read"))
    assert answer.status_code == 200
    return len(answer.json())


# --- authentication and scopes -------------------------------------------------------------


async def test_a_call_without_a_token_is_401_with_a_bearer_challenge(harness: Harness) -> None:
    async with harness.client() as client:
        for method, path in (("GET", "/alerts"), ("GET", "/devices"), ("GET", "/commands")):
            answer = await client.request(method, path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"] == "Bearer"
        wrong_scheme = await client.get("/alerts", headers={"Authorization": "Basic YTpi"})
        assert wrong_scheme.status_code == 401


async def test_refused_commands_publish_nothing_and_audit_nothing(
    harness: Harness, probe: CommandProbe
) -> None:
    async with harness.client() as client:
        none = await client.post("/commands", json=DIM)
        wrong = await client.post(
            "/commands", json=DIM, headers={"Authorization": "Bearer sct_000000000000_" + "x" * 43}
        )
        under = await client.post("/commands", json=DIM, headers=harness.headers("read"))
        not_json = await client.post(
            "/commands", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert none.status_code == 401
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert under.status_code == 403
    assert "needs operate" in under.json()["detail"]
    assert 'error="insufficient_scope"' in under.headers["www-authenticate"]
    assert not_json.status_code == 401  # the token is checked before the body is judged
    assert await audited(harness) == 0
    # one accepted command: once it reached the probe, anything published before it had too
    async with harness.client() as client:
        accepted = await client.post("/commands", json=DIM, headers=harness.headers("operate"))
    assert accepted.status_code in (200, 202)
    assert await until(lambda: len(probe.topics()) >= 1, timeout_s=10)
    assert probe.topics() == ["city/guancheng/streetlight/SL-0001/cmd"]
    assert await audited(harness) == 1


async def test_only_an_admin_token_manages_tokens(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every log call runs, as in production
    async with harness.client() as client:
        refused = await client.post(
            "/tokens",
            json={"name": "mallory", "scope": "admin"},
            headers=harness.headers("operate"),
        )
        revoke_refused = await client.delete("/tokens/read-user", headers=harness.headers("read"))
        assert refused.status_code == 403
        assert revoke_refused.status_code == 403
        assert [record.name for record in harness.tokens.list()] == [
            "read-user",
            "operate-user",
            "admin-user",
        ]
        made = await client.post(
            "/tokens", json={"name": "carol", "scope": "read"}, headers=harness.headers("admin")
        )
        assert made.status_code == 201
        secret = made.json()["token"]
        assert (
            await client.get("/alerts", headers={"Authorization": f"Bearer {secret}"})
        ).is_success
        listed = await client.get("/tokens", headers=harness.headers("admin"))
        assert "carol" in listed.text
        assert secret not in listed.text
        gone = await client.delete("/tokens/carol", headers=harness.headers("admin"))
        assert gone.status_code == 200
        after = await client.get("/alerts", headers={"Authorization": f"Bearer {secret}"})
        assert after.status_code == 401


async def test_wrong_tokens_from_one_address_are_limited_with_retry_after(
    harness: Harness,
) -> None:
    bad = {"Authorization": "Bearer sct_0123456789ab_" + "y" * 43}
    async with harness.client() as client:
        codes = [(await client.get("/alerts", headers=bad)).status_code for _ in range(5)]
        limited = await client.get("/alerts", headers=bad)
        even_right = await client.get("/alerts", headers=harness.headers("admin"))
        command = await client.post("/commands", json=DIM, headers=harness.headers("operate"))
    assert codes == [401] * 5
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert even_right.status_code == 429  # no guessing on while the address is held back
    assert command.status_code == 429
    assert harness.audit.recent(10) == []  # read directly: the API still holds this address back


async def test_tokens_never_reach_the_log(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sct_0123456789ab_" + "z" * 43
    async with harness.client() as client:
        await client.get("/alerts", headers=harness.headers("read"))
        await client.get("/alerts", headers={"Authorization": f"Bearer {wrong}"})
        await client.post("/commands", json=DIM, headers=harness.headers("operate"))
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "api_auth_refused" in logged
    for secret in [*harness.secrets.values(), wrong]:
        assert secret not in logged
        assert secret[-20:] not in logged


# --- bad bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**DIM, "level_pct": 150}, "level_pct", "less than or equal to 100"),
        ({"device_id": "SL-0001", "action": "dim"}, "level_pct", "dim needs level_pct"),
        ({"device_id": "CP-0001", "action": "dim", "level_pct": 5}, "action", "cannot dim"),
        ({**DIM, "action": "explode"}, "action", "Input should be"),
        ({**DIM, "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"action": "reboot"}, "device_id", "exactly one of"),
        ({"cabinet": "C-01", "junction": "J-01", "action": "reboot"}, "device_id", "exactly one"),
        ({"junction": "J-01", "action": "set_plan", "plan_id": 300}, "plan_id", "less than"),
    ],
)
async def test_a_malformed_command_is_422_naming_the_field_and_sends_nothing(
    harness: Harness, body: dict[str, object], field: str, words: str
) -> None:
    async with harness.client() as client:
        answer = await client.post("/commands", json=body, headers=harness.headers("operate"))
    assert answer.status_code == 422, answer.text
    problem = answer.json()["detail"][0]
    assert problem["field"] == field
    assert words in problem["msg"]
    assert await audited(harness) == 0


async def test_the_answer_to_an_out_of_range_level_is_the_one_the_readme_shows(
    harness: Harness,
) -> None:
    async with harness.client() as client:
        answer = await client.post(
            "/commands", json={**DIM, "level_pct": 300}, headers=harness.headers("operate")
        )
    assert answer.json() == {
        "detail": [
            {
                "loc": ["body", "level_pct"],
                "field": "level_pct",
                "msg": "Input should be less than or equal to 100",
                "type": "less_than_equal",
            }
        ]
    }


async def test_a_huge_body_is_refused_before_it_is_read(harness: Harness) -> None:
    huge = b'{"device_id": "SL-0001", "action": "reboot", "pad": "' + b"x" * 200_000 + b'"}'
    async with harness.client() as client:
        answer = await client.post(
            "/commands",
            content=huge,
            headers={**harness.headers("operate"), "Content-Type": "application/json"},
        )
    assert answer.status_code == 413
    assert await audited(harness) == 0


async def test_a_command_to_an_unknown_device_or_group_is_404(harness: Harness) -> None:
    async with harness.client() as client:
        device = await client.post(
            "/commands", json={**DIM, "device_id": "SL-9999"}, headers=harness.headers("operate")
        )
        cabinet = await client.post(
            "/commands",
            json={"cabinet": "C-99", "action": "dim", "level_pct": 10},
            headers=harness.headers("operate"),
        )
    assert device.status_code == 404
    assert "SL-9999" in device.json()["detail"]
    assert cabinet.status_code == 404
    assert await audited(harness) == 0


async def test_an_unexpected_failure_is_a_500_with_a_request_id_and_no_trace(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.alert_store.close()  # the engine's store is gone: reading it raises
    async with harness.client() as client:
        answer = await client.get("/alerts", headers=harness.headers("read"))
    assert answer.status_code == 500
    body = answer.json()
    assert body == {"detail": "internal error", "request_id": answer.headers["x-request-id"]}
    assert "Traceback" not in answer.text
    failed = [r for r in caplog.records if r.getMessage() == "api_request_failed"]
    assert [getattr(r, "request_id", None) for r in failed] == [body["request_id"]]
    assert failed[0].exc_info is not None


# --- alerts, devices, health, docs ---------------------------------------------------------


def seed_alerts(store: alerts.AlertStore) -> None:
    lamp = alert(
        "lamp-out",
        kind=devices.Kind.STREETLIGHT,
        district="centre",
        severity="warning",
        device="SL-0001",
        fired_at=NOW - timedelta(hours=2),
    )
    spill = alert(
        "ammonia-high",
        kind=devices.Kind.WATER_QUALITY,
        district="riverside",
        severity="critical",
        device="WQ-0001",
        fired_at=NOW - timedelta(hours=1),
    )
    old = alert(
        "camera-offline",
        kind=devices.Kind.CHECKPOINT,
        district="centre",
        severity="critical",
        device="CP-0001",
        fired_at=NOW - timedelta(days=2),
    )
    resolved = alert(
        "camera-offline",
        kind=devices.Kind.CHECKPOINT,
        district="centre",
        severity="critical",
        device="CP-0001",
        state=alerts.AlertState.RESOLVED,
        fired_at=NOW - timedelta(days=2),
    )
    record_changes(
        store,
        [
            (old, alerts.ChangeKind.FIRING),
            (resolved, alerts.ChangeKind.RESOLVED),
            (lamp, alerts.ChangeKind.FIRING),
            (spill, alerts.ChangeKind.FIRING),
        ],
    )


async def test_active_alerts_are_filtered_by_district_kind_and_severity(harness: Harness) -> None:
    seed_alerts(harness.alert_store)
    async with harness.client() as client:
        everything = await client.get("/alerts", headers=harness.headers("read"))
        critical = await client.get("/alerts?severity=critical", headers=harness.headers("read"))
        centre = await client.get(
            "/alerts?district=centre&kind=streetlight", headers=harness.headers("read")
        )
        bad_kind = await client.get("/alerts?kind=toaster", headers=harness.headers("read"))
    assert [a["rule"] for a in everything.json()] == ["lamp-out", "ammonia-high"]
    assert [a["rule"] for a in critical.json()] == ["ammonia-high"]
    assert [a["labels"]["device"] for a in centre.json()] == ["SL-0001"]
    assert bad_kind.status_code == 422
    assert bad_kind.json()["detail"][0]["field"] == "kind"


async def test_alert_history_comes_from_the_store_newest_first_within_the_time_asked(
    harness: Harness,
) -> None:
    seed_alerts(harness.alert_store)
    async with harness.client() as client:
        everything = await client.get("/alerts/history", headers=harness.headers("read"))
        since = (NOW - timedelta(days=1)).isoformat()
        recent = await client.get(
            "/alerts/history", params={"since": since}, headers=harness.headers("read")
        )
        older = await client.get(
            "/alerts/history", params={"until": since}, headers=harness.headers("read")
        )
        cameras = await client.get(
            "/alerts/history?kind=checkpoint&severity=critical", headers=harness.headers("read")
        )
        naive = await client.get(
            "/alerts/history?since=2026-12-01T00:00:00", headers=harness.headers("read")
        )
    changes = [(c["rule"], c["change"]) for c in everything.json()]
    assert changes == [
        ("ammonia-high", "firing"),
        ("lamp-out", "firing"),
        ("camera-offline", "resolved"),
        ("camera-offline", "firing"),
    ]
    resolved = everything.json()[2]
    assert (resolved["at"], resolved["kind"], resolved["labels"]["device"]) == (
        "2026-11-29T08:30:00Z",
        "checkpoint",
        "CP-0001",
    )
    assert [c["rule"] for c in recent.json()] == ["ammonia-high", "lamp-out"]
    assert [c["change"] for c in older.json()] == ["resolved", "firing"]
    assert [c["change"] for c in cameras.json()] == ["resolved", "firing"]
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["field"] == "since"


async def test_devices_list_the_registry_with_presence_from_status_messages(
    tmp_path: Path, make_mosquitto: Callable[..., LocalMosquitto]
) -> None:
    # a broker of its own: the simulators of other tests leave retained statuses behind
    broker = make_mosquitto()
    device = CommandProbe(broker.url)
    # the devices' own retained statuses, as the simulators and real devices publish them
    device.client.publish(
        "city/centre/streetlight/SL-0002/status",
        b'{"online": true, "ts": "2026-12-01T07:59:00Z"}',
        qos=1,
        retain=True,
    ).wait_for_publish(10)
    device.client.publish(
        "city/centre/streetlight/SL-0003/status", b'{"online": false}', qos=1, retain=True
    ).wait_for_publish(10)
    device.close()
    async with running_api(tmp_path, broker.url, REGISTRY) as harness:
        assert await until(
            lambda: {"SL-0002", "SL-0003"} <= set(harness_presence(harness)), timeout_s=10
        )
        # a status from a device the registry does not know is not remembered (bounded memory);
        # published before one that is, by the same client, so it has arrived when that has
        rogue = CommandProbe(broker.url)
        rogue.client.publish(
            "city/centre/streetlight/ROGUE-1/status", b'{"online": true}', qos=1
        ).wait_for_publish(10)
        rogue.client.publish(
            "city/zhongtang/water_quality/WQ-0002/status", b'{"online": true}', qos=1
        ).wait_for_publish(10)
        rogue.close()
        assert await until(lambda: "WQ-0002" in harness_presence(harness), timeout_s=10)
        assert "ROGUE-1" not in harness_presence(harness)
        async with harness.client() as client:
            read = harness.headers("read")
            two = await client.get("/devices/SL-0002", headers=read)
            three = await client.get("/devices/SL-0003", headers=read)
            four = await client.get("/devices/SL-0004", headers=read)
            cabinet = await client.get("/devices?cabinet=C-01&online=true", headers=read)
            page = await client.get("/devices?limit=10&offset=50", headers=read)
            missing = await client.get("/devices/XX-1", headers=read)
    assert two.json() == {
        "id": "SL-0002",
        "kind": "streetlight",
        "district": "guancheng",
        "group": {"cabinet": "C-01"},
        "online": True,
        "last_seen": "2026-12-01T07:59:00Z",
    }
    # a retained last-will carries no time: offline, last seen unknown
    assert (three.json()["online"], three.json()["last_seen"]) == (False, None)
    assert four.json()["online"] is None  # never heard of
    assert [d["id"] for d in cabinet.json()["devices"]] == ["SL-0002"]
    assert cabinet.json()["online"] == 1
    assert page.json()["total"] == len(REGISTRY)
    assert len(page.json()["devices"]) == min(10, len(REGISTRY) - 50)
    assert missing.status_code == 404


def harness_presence(harness: Harness) -> dict[str, object]:
    source = harness.app.state.context.presence
    return dict(source.presence())


async def test_health_names_each_dependency_and_is_503_when_one_is_down(
    tmp_path: Path, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    async with (
        running_api(tmp_path / "up", mosquitto.url, REGISTRY, influx_url=influxdb.url) as up,
        up.client() as client,
    ):
        healthy = await client.get("/healthz")
    assert healthy.status_code == 200
    body = healthy.json()
    assert body["status"] == "ok"
    assert set(body["dependencies"]) == {"broker", "alert_store", "influxdb"}
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    async with (
        running_api(tmp_path / "down", mosquitto.url, REGISTRY, influx_url=dead) as down,
        down.client() as client,
    ):
        degraded = await client.get("/healthz")
    assert degraded.status_code == 503
    assert degraded.json()["dependencies"]["influxdb"]["ok"] is False
    assert degraded.json()["dependencies"]["broker"]["ok"] is True


async def test_openapi_and_docs_are_served_and_name_the_bearer_scheme(harness: Harness) -> None:
    async with harness.client() as client:
        schema = await client.get("/openapi.json")
        docs = await client.get("/docs")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/alerts", "/alerts/history", "/devices", "/commands", "/commands/{command_id}"):
        assert path in paths
    assert "HTTPBearer" in schema.json()["components"]["securitySchemes"]
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
