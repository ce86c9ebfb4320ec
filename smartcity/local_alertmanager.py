"""The local Alertmanager: Debian's ``prometheus-alertmanager`` as a child, on loopback.

``smartcity up`` starts one when ``SMARTCITY_ALERTMANAGER_URL`` is unset, and the tests start
their own. It runs a copy of ``config/alertmanager.yml`` rendered into its data folder: template
paths made absolute, and the SMTP server and webhook URL replaced when the settings name them;
``smartcity up`` points the webhooks at its API's ``/hooks/alertmanager`` with a bearer token
read from a credentials file (``http_config.authorization.credentials_file``).
A single node gossips with nobody (``--cluster.listen-address=`` empty), so no second port.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from smartcity.stack import (
    LOOPBACK,
    ChildServer,
    StackError,
    _http_status,
    free_port,
    port_is_free,
)

__all__ = ["LocalAlertmanager", "render_alertmanager_config"]

log = logging.getLogger(__name__)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def render_alertmanager_config(
    source: Path,
    *,
    smtp_smarthost: str | None = None,
    webhook_url: str | None = None,
    webhook_credentials_file: Path | None = None,
    webhook_ca_file: Path | None = None,
    also_webhook_url: str | None = None,
    group_wait_s: float | None = None,
    group_interval_s: float | None = None,
    repeat_interval_s: float | None = None,
) -> str:
    """The config a local Alertmanager runs: ``source`` with absolute template paths, and the
    given SMTP server, webhook URL (with a bearer token read from ``webhook_credentials_file``,
    and ``webhook_ca_file`` to trust for HTTPS) and route timings (every route that sets one)
    put in."""
    try:
        document: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise StackError(
            f"{source}: cannot read the Alertmanager config ({exc});"
            " set SMARTCITY_ALERTMANAGER_CONFIG_PATH"
        ) from exc
    base = source.resolve().parent
    document["templates"] = [str(base / item) for item in document.get("templates", [])]
    if smtp_smarthost is not None:
        document.setdefault("global", {})["smtp_smarthost"] = smtp_smarthost
    if webhook_url is not None:
        for receiver in document.get("receivers", []):
            for webhook in receiver.get("webhook_configs", []) or []:
                webhook["url"] = webhook_url
                http_config: dict[str, Any] = {}
                if webhook_credentials_file is not None:
                    http_config["authorization"] = {
                        "type": "Bearer",
                        "credentials_file": str(webhook_credentials_file),
                    }
                if webhook_ca_file is not None:
                    http_config["tls_config"] = {"ca_file": str(webhook_ca_file)}
                if http_config:
                    webhook["http_config"] = http_config
    if also_webhook_url is not None:
        # a second webhook beside each receiver's (the demo's recording receiver)
        for receiver in document.get("receivers", []):
            hooks = receiver.get("webhook_configs", []) or []
            # receivers may share one list (a YAML alias in the source): add it once to each
            if hooks and all(hook.get("url") != also_webhook_url for hook in hooks):
                hooks.append({"url": also_webhook_url, "send_resolved": True})
    timings = {
        "group_wait": group_wait_s,
        "group_interval": group_interval_s,
        "repeat_interval": repeat_interval_s,
    }

    def retime(route: dict[str, Any], root: bool) -> None:
        for key, value in timings.items():
            if value is not None and (root or key in route):
                route[key] = _seconds(value)
        for child in route.get("routes", []) or []:
            retime(child, False)

    retime(document["route"], True)
    # anchors and aliases in the source become plain copies: each receiver its own
    return yaml.dump(document, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=1000)


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass
class LocalAlertmanager(ChildServer):
    """Alertmanager 0.25 on a loopback port; a taken port (or 0) gets a free one."""

    config_source: Path = Path("config/alertmanager.yml")
    smtp_smarthost: str | None = None
    webhook_url: str | None = None
    also_webhook_url: str | None = None  # a second webhook beside each receiver's
    webhook_credentials_file: Path | None = None
    webhook_ca_file: Path | None = None
    group_wait_s: float | None = None
    group_interval_s: float | None = None
    repeat_interval_s: float | None = None
    # a cluster member: gossip on this loopback port (0: a free one) with these peers
    cluster: bool = False
    cluster_port: int = 0
    peers: tuple[str, ...] = ()
    peer_timeout_s: float | None = None

    def __post_init__(self) -> None:
        self.name = "alertmanager"
        self.binary = "prometheus-alertmanager"
        self.package = "prometheus-alertmanager"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "alertmanager.yml"

    def port_setting(self) -> str:
        return "SMARTCITY_LOCAL_ALERTMANAGER_PORT"

    def start(self) -> None:
        """Start on the asked port, or on a free one when it is taken."""
        if self.port and not port_is_free(self.port):
            log.warning("local_alertmanager_port_taken", extra={"port": self.port})
            self.port = 0
        super().start()

    def write_config(self) -> None:
        """Render the config into the data folder (also what a restart re-reads)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            render_alertmanager_config(
                self.config_source,
                smtp_smarthost=self.smtp_smarthost,
                webhook_url=self.webhook_url,
                webhook_credentials_file=self.webhook_credentials_file,
                webhook_ca_file=self.webhook_ca_file,
                also_webhook_url=self.also_webhook_url,
                group_wait_s=self.group_wait_s,
                group_interval_s=self.group_interval_s,
                repeat_interval_s=self.repeat_interval_s,
            ),
            encoding="utf-8",
        )

    def command(self, binary: str) -> list[str]:
        self.write_config()
        command = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.data_dir / 'alertmanager-data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            f"--web.external-url=http://{LOOPBACK}:{self.port}",
            "--log.level=warn",
        ]
        if self.cluster:
            self.cluster_port = self.cluster_port or free_port()
            command.append(f"--cluster.listen-address={LOOPBACK}:{self.cluster_port}")
            command.append(f"--cluster.advertise-address={LOOPBACK}:{self.cluster_port}")
            command += [f"--cluster.peer={peer}" for peer in self.peers]
            if self.peer_timeout_s is not None:
                command.append(f"--cluster.peer-timeout={self.peer_timeout_s:g}s")
        else:
            command.append("--cluster.listen-address=")
        return command

    def ready(self) -> bool:
        return _http_status(f"{self.url}/-/ready") == 200
