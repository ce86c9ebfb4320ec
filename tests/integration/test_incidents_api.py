"""The incident routes over a real server, assembled as ``smartcity up`` does (``build_api``
with the platform's ``incident_service`` on the real Mosquitto, its ticker running): an incident
taken from open to closed by hand, every change in its timeline under the token's name; who may
change what; bad bodies and refused transitions named; the ``incident`` event; a restart in the
middle of an incident loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

import api
from smartcity.assembly import build_api, incident_service, token_store
from smartcity.settings import Settings, load_settings
from smartcity.stack import LocalMosquitto
from tests.integration.api_harness import ROOT, demo_registry, running_api

REGISTRY = demo_registry()
_ids = itertools.count(1)


@dataclass
class Served:
    url: str
    operate: dict[str, str]
    read: dict[str, str]


def _settings(tmp_path: Path, mqtt_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path,
        mqtt_url=mqtt_url,
        plans_path=ROOT / "config" / "plans",
        incidents_rules_path=ROOT / "config" / "incidents.yaml",
        incidents_tick_interval_s=0.2,
        api_port=0,
        api_events_interval_s=0.1,
        api_mqtt_client_id=f"incidents-api-{id(tmp_path)}-{next(_ids)}",
        gateway_client_id=f"incidents-gw-{id(tmp_path)}-{next(_ids)}",
        metrics_port=None,
    )


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, mosquitto: LocalMosquitto) -> AsyncIterator[Served]:
    """The API with the platform's incident service, on the data folder ``tmp_path``."""
    settings = _settings(tmp_path, mosquitto.url)
    tokens = token_store(settings)
    secrets = {}
    for name, scope in (("li.wei", api.Scope.OPERATE), ("viewer", api.Scope.READ)):
        with contextlib.suppress(api.TokenNotFound):  # the second start on the same folder
            tokens.revoke(name)
        secrets[name] = tokens.create(name, scope).secret
    async with incident_service(settings, REGISTRY, mosquitto.url, None) as incidents:
        service = build_api(
            settings, REGISTRY, mqtt_url=mosquitto.url, influx_url=None, incidents=incidents
        )
        tasks = [asyncio.create_task(service.run()), asyncio.create_task(incidents.run())]
        try:
            async with asyncio.timeout(20):
                await service.server.started.wait()
            yield Served(
                service.server.url,
                {"Authorization": f"Bearer {secrets['li.wei']}"},
                {"Authorization": f"Bearer {secrets['viewer']}"},
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


OPENING = {"type": "lighting", "title": "Cabinet C-02 dark", "district": "guancheng"}


async def test_an_incident_goes_from_open_to_closed_by_hand_and_survives_a_restart(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    async with (
        serving(tmp_path, mosquitto) as served,
        httpx.AsyncClient(base_url=served.url, timeout=10) as client,
    ):
        ops = served.operate
        opened = await client.post(
            "/incidents", json=OPENING | {"severity": "critical"}, headers=ops
        )
        assert opened.status_code == 201, opened.text
        incident = opened.json()
        number = incident["id"]
        assert (incident["status"], incident["plan"], incident["opened_by"]) == (
            "open",
            "cabinet-power-cut@1",
            "li.wei",
        )
        assert incident["opened_at"].endswith("Z")
        assert incident["steps_total"] == 4
        assert incident["next_due_at"] is not None

        taken = (await client.post(f"/incidents/{number}/take", json={}, headers=ops)).json()
        assert taken["assignee"] == "li.wei"
        noted = await client.post(
            f"/incidents/{number}/notes", json={"text": "crew on the way"}, headers=ops
        )
        assert noted.status_code == 200, noted.text
        done = await client.post(
            f"/incidents/{number}/steps/send-crew/done", json={"comment": "van 3"}, headers=ops
        )
        assert done.status_code == 200, done.text
        crew = next(s for s in done.json()["steps"] if s["step_id"] == "send-crew")
        assert (crew["status"], crew["done_by"], crew["comment"]) == ("done", "li.wei", "van 3")
        moved = await client.post(
            f"/incidents/{number}/status", json={"status": "dispatched"}, headers=ops
        )
        assert moved.json()["status"] == "dispatched"
        escalated = await client.post(
            f"/incidents/{number}/escalate", json={"reason": "second cabinet down"}, headers=ops
        )
        assert escalated.json()["escalation_level"] == 1

    # a restart in the middle of the incident: a new service and API on the same files
    async with (
        serving(tmp_path, mosquitto) as served,
        httpx.AsyncClient(base_url=served.url, timeout=10) as client,
    ):
        ops = served.operate
        before = (await client.get(f"/incidents/{number}", headers=served.read)).json()
        assert (before["status"], before["assignee"], before["escalation_level"]) == (
            "dispatched",
            "li.wei",
            1,
        )
        resolved = await client.post(
            f"/incidents/{number}/status",
            json={"status": "resolved", "comment": "fuse replaced"},
            headers=ops,
        )
        assert resolved.status_code == 200, resolved.text
        closed = await client.post(
            f"/incidents/{number}/close", json={"report": "fuse replaced at 03:05"}, headers=ops
        )
        assert closed.status_code == 200, closed.text
        shown = (await client.get(f"/incidents/{number}", headers=served.read)).json()
        later = await client.post("/incidents", json=OPENING | {"title": "C-03 dark"}, headers=ops)
        open_list = (await client.get("/incidents", headers=served.read)).json()
        all_list = (
            await client.get("/incidents", params={"include_closed": "true"}, headers=served.read)
        ).json()

    assert (shown["status"], shown["report"]) == ("closed", "fuse replaced at 03:05")
    assert shown["closed_at"].endswith("Z")
    by_hand = [(e["kind"], e["text"]) for e in shown["timeline"] if e["actor"] == "li.wei"]
    kinds = [kind for kind, _ in by_hand]
    assert kinds == [
        "opened",
        "assigned",
        "note",
        "step",
        "status",
        "escalation",
        "status",
        "status",
    ]
    texts = " | ".join(text for _, text in by_hand)
    for said in ("crew on the way", "van 3", "second cabinet down", "fuse replaced at 03:05"):
        assert said in texts
    # the timeline from before the restart is all there, in order
    assert [e["id"] for e in shown["timeline"]] == sorted(e["id"] for e in shown["timeline"])
    assert before["timeline"] == shown["timeline"][: len(before["timeline"])]
    assert [i["id"] for i in open_list] == [later.json()["id"]]
    assert [i["id"] for i in all_list] == [later.json()["id"], number]  # newest first
    assert all_list[1]["status"] == "closed"
    assert all_list[1]["steps_done"] >= 1


async def test_who_may_change_an_incident_and_what_is_refused_says_why(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    async with (
        serving(tmp_path, mosquitto) as served,
        httpx.AsyncClient(base_url=served.url, timeout=10) as client,
    ):
        ops, viewer = served.operate, served.read
        unknown = await client.get("/incidents")
        read_only = await client.post("/incidents", json=OPENING, headers=viewer)
        number = (await client.post("/incidents", json=OPENING, headers=ops)).json()["id"]
        read_only_note = await client.post(
            f"/incidents/{number}/notes", json={"text": "hi"}, headers=viewer
        )
        no_title = await client.post(
            "/incidents", json={"type": "lighting", "district": "guancheng"}, headers=ops
        )
        bad_severity = await client.post(
            "/incidents", json=OPENING | {"severity": "urgent"}, headers=ops
        )
        bad_district = await client.post(
            "/incidents", json=OPENING | {"district": "atlantis"}, headers=ops
        )
        blank_note = await client.post(
            f"/incidents/{number}/notes", json={"text": "   "}, headers=ops
        )
        closing_status = await client.post(
            f"/incidents/{number}/status", json={"status": "closed"}, headers=ops
        )
        on_site_too_soon = await client.post(
            f"/incidents/{number}/status", json={"status": "on_site"}, headers=ops
        )
        close_too_soon = await client.post(
            f"/incidents/{number}/close", json={"report": "done"}, headers=ops
        )
        no_such_step = await client.post(
            f"/incidents/{number}/steps/fly-a-drone/done", json={}, headers=ops
        )
        no_such_incident = await client.get("/incidents/99999", headers=viewer)
        taken_without_a_body = await client.post(f"/incidents/{number}/take", headers=ops)
        taken_with_extra = await client.post(
            f"/incidents/{number}/take", json={"who": "someone"}, headers=ops
        )
        await client.post(f"/incidents/{number}/steps/send-crew/done", json={}, headers=ops)
        twice = await client.post(f"/incidents/{number}/steps/send-crew/done", headers=ops)

    assert unknown.status_code == 401
    assert read_only.status_code == 403
    assert read_only_note.status_code == 403
    assert no_title.status_code == 422
    assert [e["field"] for e in no_title.json()["detail"]] == ["title"]
    assert [e["field"] for e in bad_severity.json()["detail"]] == ["severity"]
    assert bad_district.status_code == 422
    [problem] = bad_district.json()["detail"]
    assert problem["field"] == "district"
    assert "guancheng" in problem["msg"]
    assert [e["field"] for e in blank_note.json()["detail"]] == ["text"]
    assert [e["field"] for e in closing_status.json()["detail"]] == ["status"]
    assert on_site_too_soon.status_code == 409
    refused = on_site_too_soon.json()
    assert refused["allowed"] == ["dispatched", "resolved"]
    assert "allowed: dispatched, resolved" in refused["detail"]
    assert close_too_soon.status_code == 409
    assert no_such_step.status_code == 404
    assert "send-crew" in no_such_step.json()["detail"]  # it lists the steps there are
    assert no_such_incident.status_code == 404
    assert twice.status_code == 409
    assert taken_without_a_body.json()["assignee"] == "li.wei"
    assert [e["field"] for e in taken_with_extra.json()["detail"]] == ["who"]
    assert "already" in twice.json()["detail"]
    for answer in (no_title, on_site_too_soon, no_such_step):
        assert "Traceback" not in answer.text


async def test_the_event_stream_says_when_an_incident_opens_or_changes(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    seen: list[dict[str, object]] = []
    async with (
        serving(tmp_path, mosquitto) as served,
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
    ):
        ticket = (await client.post("/events/ticket", headers=served.read)).json()["ticket"]
        number = None
        async with client.stream("GET", "/events", params={"ticket": ticket}) as stream:
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "presence" and number is None:
                    # the stream's start is out: open one, then change it
                    opened = await client.post("/incidents", json=OPENING, headers=served.operate)
                    number = opened.json()["id"]
                elif line.startswith("data: ") and event == "incident":
                    seen.append(json.loads(line.removeprefix("data: ")))
                    if len(seen) == 1:
                        await client.post(
                            f"/incidents/{number}/notes",
                            json={"text": "seen"},
                            headers=served.operate,
                        )
                    if any(change["status"] == "dispatched" for change in seen) or len(seen) >= 10:
                        break
                    if len(seen) == 2:
                        await client.post(
                            f"/incidents/{number}/status",
                            json={"status": "dispatched"},
                            headers=served.operate,
                        )
    assert seen[0]["id"] == number
    assert seen[0]["status"] == "open"
    assert str(seen[0]["updated_at"]).endswith("Z")
    assert seen[-1] == {"id": number, "status": "dispatched", "updated_at": seen[-1]["updated_at"]}
    assert datetime.fromisoformat(str(seen[-1]["updated_at"])) > datetime.fromisoformat(
        str(seen[0]["updated_at"])
    )


async def test_without_an_incident_service_the_incident_routes_are_503_saying_so(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    async with running_api(tmp_path, mosquitto.url, REGISTRY) as harness, harness.client() as c:
        listed = await c.get("/incidents", headers=harness.headers("read"))
        opened = await c.post("/incidents", json=OPENING, headers=harness.headers("operate"))
    assert listed.status_code == 503
    assert "incident service" in listed.json()["detail"]
    assert opened.status_code == 503
