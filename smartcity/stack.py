"""The local stack: Mosquitto and InfluxDB 1.x (and VictoriaMetrics, for tests of the v2 write
path) as child processes on loopback ports, their data in one folder.

``smartcity up`` and the test fixtures share this code. Each server is a context manager: enter
starts it and waits until it answers; exit stops it (SIGTERM, then SIGKILL) and reaps it. The
children are also tied to our life with ``PR_SET_PDEATHSIG``, so a killed parent leaves none
behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from smartcity.mosquitto_access import BrokerSecurity, access_lines

__all__ = [
    "BrokerSecurity",
    "ChildServer",
    "LocalInfluxDB",
    "LocalMosquitto",
    "LocalVictoriaMetrics",
    "StackError",
    "free_port",
    "port_is_free",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class StackError(Exception):
    """A local server could not be started; the message says which and what to do."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether ``port`` on loopback can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the servers do: a port whose old connections linger in TIME_WAIT is free to them
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ChildServer:
    """A server binary run as our child, on a loopback port, with its data under ``data_dir``."""

    data_dir: Path
    port: int = 0
    name: str = field(default="server", init=False)
    binary: str = field(default="", init=False)
    package: str = field(default="", init=False)
    start_timeout_s: float = 30.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    # -- what a subclass supplies --------------------------------------------------------------
    def command(self, binary: str) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def port_setting(self) -> str:
        return "a different port"

    # -- life cycle ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def find_binary(self) -> str:
        found = shutil.which(self.binary) or shutil.which(self.binary, path="/usr/sbin:/sbin")
        if found is None:
            raise StackError(
                f"{self.binary} not found: install it with `apt-get install -y {self.package}`"
                " (or `make up`, which installs what is missing)"
            )
        return found

    def start(self) -> None:
        """Start the server and wait until it answers, or raise ``StackError`` saying why."""
        binary = self.find_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port()
        elif not port_is_free(self.port):
            raise StackError(
                f"{self.name} cannot start: port {self.port} on {LOOPBACK} is already taken;"
                f" stop what listens there or set {self.port_setting()}"
            )
        command = self.command(binary)
        log.info("local_server_starting", extra={"server": self.name, "port": self.port})
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self._log_tail()
                self.process = None
                raise StackError(
                    f"{self.name} exited at start (port {self.port}); its log says:\n{tail}"
                )
            if self.ready():
                log.info(
                    "local_server_ready",
                    extra={"server": self.name, "port": self.port, "pid": self.pid},
                )
                return
            time.sleep(0.05)
        self.stop()
        raise StackError(
            f"{self.name} did not answer on port {self.port} within {self.start_timeout_s:.0f} s;"
            f" see {self.log_path}"
        )

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the server: SIGTERM, wait, then SIGKILL; always reaped."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.info("local_server_stopped", extra={"server": self.name, "port": self.port})

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (for fault tests)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        self.start()

    def _log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def __enter__(self) -> ChildServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _tcp_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        try:
            probe.connect((LOOPBACK, port))
        except OSError:
            return False
        return True


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


@dataclass
class LocalMosquitto(ChildServer):
    """Mosquitto 2.x with persistence, sized so a gateway restart loses no queued message.

    ``max_queued_messages`` is large but finite: Mosquitto drops what an offline persistent
    session has queued beyond it, and ``0`` (unlimited) misbehaves (Mosquitto issue #2876).
    """

    max_queued_messages: int = 1_000_000
    max_inflight_messages: int = 1000
    max_packet_size: int = 1024 * 1024
    extra_config: str = ""
    security: BrokerSecurity | None = None

    def __post_init__(self) -> None:
        self.name = "mosquitto"
        self.binary = "mosquitto"
        self.package = "mosquitto"

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.security is not None else "mqtt"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    def port_setting(self) -> str:
        if self.security is not None:
            return "SMARTCITY_LOCAL_MQTTS_PORT (0 picks a free port)"
        return "SMARTCITY_LOCAL_MQTT_PORT (0 picks a free port)"

    def reload(self) -> None:
        """Re-read the password file and the ACLs (SIGHUP): a rotation needs no restart."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)
            log.info("local_server_reloaded", extra={"server": self.name, "port": self.port})

    def config_text(self) -> str:
        persistence = self.data_dir / "mosquitto-data"
        persistence.mkdir(parents=True, exist_ok=True)
        lines = [
            *access_lines(self.port, LOOPBACK, self.security),
            "persistence true",
            f"persistence_location {persistence}/",
            "autosave_interval 30",
            f"max_queued_messages {self.max_queued_messages}",
            "max_queued_bytes 0",
            f"max_inflight_messages {self.max_inflight_messages}",
            f"max_packet_size {self.max_packet_size}",
            "set_tcp_nodelay true",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            # Started as root, Mosquitto drops to user "mosquitto", who cannot write our data.
            lines.append("user root")
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def command(self, binary: str) -> list[str]:
        config = self.data_dir / "mosquitto.conf"
        config.write_text(self.config_text(), encoding="utf-8")
        return [binary, "-c", str(config)]

    def ready(self) -> bool:
        return _tcp_answers(self.port)


@dataclass
class LocalInfluxDB(ChildServer):
    """InfluxDB 1.x (Debian's 1.6.7): HTTP ``/write`` and InfluxQL ``/query``."""

    rpc_port: int = 0
    max_body_size: int = 64 * 1024 * 1024  # bytes of one /write body; larger ones get 413

    def __post_init__(self) -> None:
        self.name = "influxdb"
        self.binary = "influxd"
        self.package = "influxdb"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def port_setting(self) -> str:
        return "SMARTCITY_LOCAL_INFLUX_PORT (0 picks a free port)"

    def config_text(self) -> str:
        if self.rpc_port == 0 or not port_is_free(self.rpc_port):
            self.rpc_port = free_port()
        root = self.data_dir / "influxdb-data"
        return f"""reporting-disabled = true
bind-address = "{LOOPBACK}:{self.rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
  index-version = "tsi1"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{LOOPBACK}:{self.port}"
  log-enabled = false
  write-tracing = false
  max-body-size = {self.max_body_size}

[continuous_queries]
  enabled = true
  log-enabled = false
  run-interval = "10s"

[logging]
  level = "warn"
"""

    def command(self, binary: str) -> list[str]:
        config = self.data_dir / "influxdb.conf"
        config.write_text(self.config_text(), encoding="utf-8")
        return [binary, "-config", str(config)]

    def ready(self) -> bool:
        return _http_status(f"{self.url}/ping") == 204


@dataclass
class LocalVictoriaMetrics(ChildServer):
    """VictoriaMetrics: a real server that accepts InfluxDB's ``/api/v2/write``."""

    def __post_init__(self) -> None:
        self.name = "victoria-metrics"
        self.binary = "victoria-metrics"
        self.package = "victoria-metrics"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self, binary: str) -> list[str]:
        return [
            binary,
            f"-httpListenAddr={LOOPBACK}:{self.port}",
            f"-storageDataPath={self.data_dir / 'victoria-metrics-data'}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-loggerLevel=WARN",
        ]

    def ready(self) -> bool:
        return _http_status(f"{self.url}/health") == 200


@contextlib.contextmanager
def running(*servers: ChildServer) -> Iterator[None]:
    """Start servers in order and stop them in reverse, whatever happens in between."""
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.enter_context(server)
        yield
