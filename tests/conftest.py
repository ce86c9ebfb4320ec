"""Session fixtures: a real Mosquitto and a real InfluxDB on free loopback ports, in temp dirs.

They are started by ``smartcity.stack``, the same code ``smartcity up`` runs. Tests that break a
server (kill, restart) ask for their own through the ``make_*`` factories, never the shared ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings

from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.stack import LocalInfluxDB, LocalMosquitto, LocalVictoriaMetrics

_databases = itertools.count(1)

# This machine has 2 cores shared with servers and other tests: time-based health checks and
# per-example deadlines would fail on load, not on bugs.
settings.register_profile(
    "smartcity", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.load_profile("smartcity")


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMosquitto]:
    """A Mosquitto shared by the session's tests; use unique topics or client ids per test."""
    server = LocalMosquitto(tmp_path_factory.mktemp("mosquitto"))
    with server:
        yield server


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfluxDB]:
    """An InfluxDB 1.x shared by the session's tests; use ``influx_database`` for isolation."""
    server = LocalInfluxDB(tmp_path_factory.mktemp("influxdb"))
    with server:
        yield server


@pytest.fixture
def influx_database(influxdb: LocalInfluxDB) -> str:
    """A fresh, empty database name for one test (created by whoever writes first)."""
    name = f"test_{next(_databases)}"
    httpx.post(f"{influxdb.url}/query", params={"q": f'DROP DATABASE "{name}"'}, timeout=10)
    return name


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalVictoriaMetrics]:
    """VictoriaMetrics, a real server that speaks InfluxDB's /api/v2/write."""
    server = LocalVictoriaMetrics(tmp_path_factory.mktemp("victoria"))
    with server:
        yield server


@pytest.fixture
def make_mosquitto(tmp_path: Path) -> Iterator[Callable[..., LocalMosquitto]]:
    """A factory for a test's own Mosquitto (to restart or kill); all stopped at the end."""
    started: list[LocalMosquitto] = []

    def make(**options: object) -> LocalMosquitto:
        server = LocalMosquitto(tmp_path / f"mosquitto-{len(started)}", **options)  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def make_influxdb(tmp_path: Path) -> Iterator[Callable[..., LocalInfluxDB]]:
    """A factory for a test's own InfluxDB (to stop mid-stream); all stopped at the end."""
    started: list[LocalInfluxDB] = []

    def make(**options: object) -> LocalInfluxDB:
        server = LocalInfluxDB(tmp_path / f"influxdb-{len(started)}", **options)  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


ALERTMANAGER_CONFIG = Path(__file__).resolve().parents[1] / "config" / "alertmanager.yml"


@pytest.fixture
def make_alertmanager(tmp_path: Path) -> Iterator[Callable[..., LocalAlertmanager]]:
    """A factory for a test's own Alertmanager, running the shipped config with the test's
    receivers and 1 s timings unless told otherwise; all stopped at the end."""
    started: list[LocalAlertmanager] = []

    def make(**options: object) -> LocalAlertmanager:
        values: dict[str, object] = {
            "config_source": ALERTMANAGER_CONFIG,
            "group_wait_s": 1.0,
            "group_interval_s": 1.0,
        }
        values.update(options)
        server = LocalAlertmanager(tmp_path / f"alertmanager-{len(started)}", **values)  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
