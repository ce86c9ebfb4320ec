"""``smartcity gateway`` as a child process, configured as in production: by ``SMARTCITY_*``
variables, with its own data dir. For the benchmarks and the fault tests, which stop, kill and
restart it.

```python
gateway = GatewayProcess(folder / "gw", {"mqtt_url": url, "influx_url": influx, "workers": ...})
gateway.start()                     # returns once it is subscribed and /metrics answers
gateway.metric("gateway_messages_stored")
gateway.kill()                      # SIGKILL; gateway.stop() is SIGTERM, a clean stop
```
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

__all__ = ["GatewayNotStarted", "GatewayProcess"]


class GatewayNotStarted(RuntimeError):
    """The process ended, or did not report ready in time; names its output file."""


class GatewayProcess:
    """One ``smartcity gateway`` process. ``settings`` are Settings field names (``spool_dir``,
    ``gateway_workers``); its data dir is ``data_dir``, and its /metrics port is picked free
    and read back from the data dir's ``endpoints.json``. No ``SMARTCITY_*`` variable of the
    caller's environment leaks in."""

    def __init__(
        self,
        data_dir: Path,
        settings: Mapping[str, object],
        *,
        engine: bool = True,
        cwd: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.output = data_dir.with_name(data_dir.name + ".out")
        self.environment = {
            name: value for name, value in os.environ.items() if not name.startswith("SMARTCITY_")
        }
        values = {"metrics_port": 0, **settings, "data_dir": data_dir}
        for name, value in values.items():
            self.environment[f"SMARTCITY_{name.upper()}"] = str(value)
        self.command = [sys.executable, "-m", "smartcity", "gateway", "--no-console"]
        if not engine:
            self.command.append("--no-engine")
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.metrics_port: int | None = None

    @property
    def note(self) -> Path:
        return self.data_dir / "endpoints.json"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, timeout_s: float = 60) -> None:
        """Start it; return once it is subscribed and its /metrics listens."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.note.unlink(missing_ok=True)  # a killed gateway leaves its note behind
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while (port := self._ready_port()) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise GatewayNotStarted(f"smartcity gateway did not start; see {self.output}")
            time.sleep(0.05)
        self.metrics_port = port

    def _ready_port(self) -> int | None:
        try:
            port = json.loads(self.note.read_text(encoding="utf-8")).get("metrics_port")
        except (OSError, ValueError):
            return None
        return port if isinstance(port, int) and port else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no flush, no ack; the broker redelivers what was not acknowledged."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 30) -> int | None:
        """SIGTERM, a clean stop (flush, ack, disconnect); the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def cpu_s(self) -> float:
        """CPU time (user + system) the process has used so far: load on the machine does not
        inflate it the way it inflates wall-clock time."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """The process's resident memory now."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def metric(self, name: str) -> float:
        """The sum of a metric's samples over all label sets (``_total`` optional)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.split("{", 1)[0].split(" ", 1)[0] in (name, name + "_total"):
                total += float(line.rsplit(" ", 1)[1])
        return total
