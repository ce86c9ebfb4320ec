"""`smartcity bench notify`: from the engine's announcement to a webhook receiver, through a real
Alertmanager running the shipped config with ``group_wait`` of 1 s.

Each probe is a new alert in a group of its own (its own cabinet), announced to the
``AlertmanagerNotifier`` as the engine does; the receiver notes when Alertmanager's webhook
brings it. The goal: p99 under 0.5 s plus ``group_wait``. In the same run, the limit: a direct
POST of a webhook body to the same receiver.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from alerts import (
    Alert,
    AlertChange,
    AlertmanagerConfig,
    AlertmanagerNotifier,
    AlertState,
    ChangeKind,
    fingerprint,
)
from devices import Kind
from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.stack import free_port

__all__ = ["run_notify_bench"]

GOAL_BEYOND_GROUP_WAIT_S = 0.5


class _Receiver:
    """A webhook receiver that notes when each probe (by its cabinet label) arrives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self.notifications = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.time()
                document = json.loads(body)
                with lock:
                    receiver.notifications += 1
                    for alert in document.get("alerts", []):
                        cabinet = alert.get("labels", {}).get("cabinet")
                        if cabinet:
                            receiver.arrived.setdefault(cabinet, now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/alertmanager"

    def __enter__(self) -> _Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _probe(index: int, run: str) -> Alert:
    now = datetime.now(UTC)
    labels = {
        "team": "lighting",
        "district": "bench",
        "kind": Kind.STREETLIGHT.value,
        "cabinet": f"{run}-{index}",
    }
    return Alert(
        fingerprint=fingerprint("bench-probe", labels),
        rule="bench-probe",
        kind=Kind.STREETLIGHT,
        district="bench",
        severity="warning",
        labels=labels,
        state=AlertState.FIRING,
        active_since=now,
        fired_at=now,
        resolved_at=None,
        value=1.0,
        summary=f"bench probe {index}",
        runbook="https://runbooks.smartcity.example/bench",
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _measure(
    alertmanager_url: str, receiver: _Receiver, probes: int, interval_s: float
) -> dict[str, float]:
    config = AlertmanagerConfig(
        urls=(alertmanager_url,),
        queue_max=10_000,
        batch_max=256,
        resend_interval_s=60.0,
        timeout_s=5.0,
        retry_initial_s=0.2,
        retry_max_s=2.0,
        shutdown_timeout_s=10.0,
    )
    run = f"r{int(time.time())}"
    sent: dict[str, float] = {}
    async with AlertmanagerNotifier(config) as notifier:
        for index in range(probes):
            alert = _probe(index, run)
            sent[alert.labels["cabinet"]] = time.time()
            await notifier.notify(AlertChange(alert, ChangeKind.FIRING, alert.starts_at))
            await asyncio.sleep(interval_s)
        deadline = time.monotonic() + 30
        while len(receiver.arrived) < probes and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return {
        cabinet: receiver.arrived[cabinet] - at
        for cabinet, at in sent.items()
        if cabinet in receiver.arrived
    }


def _direct_post_s(url: str, rounds: int = 50) -> float:
    body = {"version": "4", "status": "firing", "receiver": "lighting", "alerts": []}
    times = []
    with httpx.Client(timeout=5) as http:
        for _ in range(rounds):
            start = time.perf_counter()
            http.post(url, json=body)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_notify_bench(
    *, probes: int, interval_s: float, group_wait_s: float, results_dir: Path, config: Path
) -> dict[str, Any]:
    """Run the benchmark; print nothing, return the figures and keep them in ``results_dir``."""
    with (
        tempfile.TemporaryDirectory(prefix="smartcity-bench-notify-") as folder,
        _Receiver() as receiver,
    ):
        alertmanager = LocalAlertmanager(
            Path(folder) / "alertmanager",
            port=0,
            config_source=config,
            webhook_url=receiver.url,
            group_wait_s=group_wait_s,
            group_interval_s=group_wait_s,
        )
        with alertmanager:
            latencies = asyncio.run(_measure(alertmanager.url, receiver, probes, interval_s))
        direct_s = _direct_post_s(receiver.url)
    values = list(latencies.values())
    p50 = _percentile(values, 0.50) if values else float("nan")
    p99 = _percentile(values, 0.99) if values else float("nan")
    report: dict[str, Any] = {
        "bench": "notify",
        "at": datetime.now(UTC).isoformat(),
        "probes": probes,
        "delivered": len(values),
        "group_wait_s": group_wait_s,
        "announce_to_webhook_p50_s": round(p50, 4),
        "announce_to_webhook_p99_s": round(p99, 4),
        "announce_to_webhook_max_s": round(max(values), 4) if values else None,
        "beyond_group_wait_p99_s": round(p99 - group_wait_s, 4),
        "goal_p99_s": group_wait_s + GOAL_BEYOND_GROUP_WAIT_S,
        "goal_met": bool(values)
        and len(values) == probes
        and p99 <= group_wait_s + GOAL_BEYOND_GROUP_WAIT_S,
        "limit_direct_webhook_post_p50_s": round(direct_s, 5),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results_dir / f"notify-{stamp}.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    return report
