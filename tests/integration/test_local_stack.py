"""The local stack starts real servers, says clearly why when it cannot, and leaves none behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from smartcity.stack import LocalInfluxDB, LocalMosquitto, StackError
from tests.support import wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes once its state is Z
    state = (
        Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "Z"
    )
    return state != "Z"


def test_mosquitto_and_influxdb_start_answer_and_stop(tmp_path: Path) -> None:
    with LocalMosquitto(tmp_path / "m") as mosquitto, LocalInfluxDB(tmp_path / "i") as influx:
        assert mosquitto.pid
        assert influx.pid
        published = subprocess.run(
            ["mosquitto_pub", "-p", str(mosquitto.port), "-t", "smoke", "-m", "1", "-q", "1"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        assert published.returncode == 0, published.stderr
        assert httpx.get(f"{influx.url}/ping", timeout=5).status_code == 204
        pids = (mosquitto.pid, influx.pid)
    assert not any(alive(pid) for pid in pids)


def test_a_taken_port_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} on 127.0.0.1 is already taken"):
            LocalMosquitto(tmp_path, port=port).start()


def test_a_missing_binary_says_which_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    server = LocalInfluxDB(tmp_path)
    server.binary = "influxd-not-installed"
    with pytest.raises(StackError, match="apt-get install -y influxdb"):
        server.start()


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from smartcity.stack import LocalMosquitto
        server = LocalMosquitto(Path({str(tmp_path)!r}))
        server.start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    assert wait_for(lambda: not alive(child), timeout_s=10)


def test_a_stopped_server_restarts_on_the_same_port_with_its_data(tmp_path: Path) -> None:
    server = LocalInfluxDB(tmp_path)
    with server:
        port = server.port
        created = httpx.post(
            f"{server.url}/query", params={"q": "CREATE DATABASE kept"}, timeout=10
        )
        assert created.status_code == 200
        # leave connections behind in TIME_WAIT, as a busy gateway would
        for _ in range(5):
            httpx.get(f"{server.url}/ping", timeout=5)
    server.start()
    try:
        assert server.port == port
        listed = httpx.get(f"{server.url}/query", params={"q": "SHOW DATABASES"}, timeout=10)
        assert "kept" in listed.text
    finally:
        server.stop()
