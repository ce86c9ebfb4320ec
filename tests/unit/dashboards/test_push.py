"""``push`` against an HTTP server that checks each request as Grafana's HTTP API documents it.

No Grafana server can be had here (no Debian package, no container engine), so this server
stands in for it: it accepts only the documented methods, paths, auth header and bodies
(folders: ``GET/POST /api/folders``; datasources: ``GET/PUT /api/datasources/uid/{uid}``,
``POST /api/datasources``; dashboards: ``POST /api/dashboards/db`` with ``dashboard``,
``folderUid``, ``overwrite``), and keeps what was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dashboards import PushFailed, push
from smartcity.assembly import build_dashboards, grafana_sources
from smartcity.settings import load_settings

TOKEN = "glsa_test_token"


class FakeGrafana:
    def __init__(self) -> None:
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []


def handler_for(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            assert self.headers["Content-Type"].startswith("application/json")
            length = int(self.headers["Content-Length"])
            document: dict[str, Any] = json.loads(self.rfile.read(length))
            return document

        def _authorised(self) -> bool:
            state.requests.append((self.command, self.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"message": "Unauthorized"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path.startswith("/api/folders/"):
                uid = self.path.removeprefix("/api/folders/")
                found = state.folders.get(uid)
                self._answer(200, found) if found else self._answer(404, {"message": "not found"})
            elif self.path.startswith("/api/datasources/uid/"):
                uid = self.path.removeprefix("/api/datasources/uid/")
                found = state.datasources.get(uid)
                self._answer(200, found) if found else self._answer(404, {"message": "not found"})
            else:
                self._answer(404, {"message": "not found"})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            body = self._body()
            if self.path == "/api/folders":
                assert set(body) <= {"uid", "title", "parentUid"}
                assert body["title"]
                state.folders[body["uid"]] = body
                self._answer(200, {"uid": body["uid"], "title": body["title"]})
            elif self.path == "/api/datasources":
                for key in ("name", "type", "access", "uid"):
                    assert key in body, key
                if body["uid"] in state.datasources:
                    self._answer(409, {"message": "data source with the same uid already exists"})
                    return
                state.datasources[body["uid"]] = body
                self._answer(200, {"message": "Datasource added", "datasource": body})
            elif self.path == "/api/dashboards/db":
                assert set(body) <= {"dashboard", "folderUid", "overwrite", "message"}
                dashboard = body["dashboard"]
                if dashboard.get("id") is not None or not dashboard.get("uid"):
                    self._answer(400, {"message": "dashboard needs a uid and no id"})
                    return
                if not isinstance(dashboard.get("panels"), list) or body["folderUid"] not in (
                    state.folders
                ):
                    self._answer(400, {"message": "bad dashboard or folder"})
                    return
                state.dashboards[dashboard["uid"]] = body
                self._answer(
                    200,
                    {"status": "success", "uid": dashboard["uid"], "url": f"/d/{dashboard['uid']}"},
                )
            else:
                self._answer(404, {"message": "not found"})

        def do_PUT(self) -> None:
            if not self._authorised():
                return
            body = self._body()
            if self.path.startswith("/api/datasources/uid/"):
                uid = self.path.removeprefix("/api/datasources/uid/")
                if uid not in state.datasources:
                    self._answer(404, {"message": "not found"})
                    return
                state.datasources[uid] = body
                self._answer(200, {"message": "Datasource updated"})
            else:
                self._answer(404, {"message": "not found"})

    return Handler


@pytest.fixture
def grafana() -> Iterator[tuple[str, FakeGrafana]]:
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def sources(token: str = "influx-token") -> Any:
    settings = load_settings(influx_api="v2", influx_token=token)
    return grafana_sources(settings, influx_url="http://influxdb:8086", for_file=False)


BOARDS = build_dashboards(load_settings())


def test_push_creates_the_folder_datasources_and_every_dashboard(
    grafana: tuple[str, FakeGrafana],
) -> None:
    url, state = grafana
    result = push(url, TOKEN, BOARDS, sources(), timeout_s=5)
    assert result.folder_created
    assert set(state.dashboards) == {board.uid for board in BOARDS}
    assert all(body["folderUid"] == "smartcity" for body in state.dashboards.values())
    influx = state.datasources["smartcity-influxdb"]
    assert influx["secureJsonData"] == {"httpHeaderValue1": "Token influx-token"}
    assert result.dashboards == tuple(f"/d/{board.uid}" for board in BOARDS)


def test_a_second_push_updates_in_place(grafana: tuple[str, FakeGrafana]) -> None:
    url, state = grafana
    push(url, TOKEN, BOARDS, sources(), timeout_s=5)
    second = push(url, TOKEN, BOARDS, sources("rotated"), timeout_s=5)
    assert not second.folder_created
    assert second.datasources_created == ()
    assert "smartcity-influxdb" in second.datasources_updated
    assert state.datasources["smartcity-influxdb"]["secureJsonData"]["httpHeaderValue1"] == (
        "Token rotated"
    )


def test_a_wrong_token_is_a_clear_error_naming_the_request(
    grafana: tuple[str, FakeGrafana],
) -> None:
    url, state = grafana
    with pytest.raises(PushFailed, match=r"GET /api/folders/smartcity: HTTP 401"):
        push(url, "wrong", BOARDS, sources(), timeout_s=5)
    assert state.dashboards == {}


def test_an_unreachable_grafana_is_a_clear_error() -> None:
    with pytest.raises(PushFailed, match="GET /api/folders/smartcity"):
        push("http://127.0.0.1:9", TOKEN, BOARDS, sources(), timeout_s=2)


def test_the_push_command_sends_everything_with_the_token_from_the_environment(
    grafana: tuple[str, FakeGrafana],
) -> None:
    from typer.testing import CliRunner

    from smartcity.cli import app

    url, state = grafana
    result = CliRunner().invoke(
        app,
        ["dashboards", "push", f"--url={url}", "--influx-url=http://influxdb:8086"],
        env={"SMARTCITY_GRAFANA_TOKEN": TOKEN},
    )
    assert result.exit_code == 0, result.output
    assert f"pushed 6 dashboards to {url}" in result.output
    assert f"{url}/d/smartcity-overview" in result.output
    assert len(state.dashboards) == 6
    assert state.datasources["smartcity-influxdb"]["url"] == "http://influxdb:8086"
