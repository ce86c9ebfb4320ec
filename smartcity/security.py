"""Security material on disk: certificates, credentials, Mosquitto's password file and ACLs.

The rules live in ``devices`` (``devices.credentials``, ``devices.acl``,
``devices.certificates``); this module only decides where the files go, writes them with the
right modes, and tells each part of the platform how to log in::

    {security_dir}/            0700   (SMARTCITY_SECURITY_DIR, default {data_dir}/security)
      ca.pem ca.key            the local CA (the key 0600)
      server.pem server.key    Mosquitto's certificate (hosts: SMARTCITY_CERTS_HOSTS)
      client.pem client.key    the platform's client certificate (mutual TLS)
      credentials.json  0600   every device's and service's password (SMARTCITY_CREDENTIALS_PATH)
      passwd            0600   Mosquitto's password file ($7$ PBKDF2-SHA512 hashes)
      acl               0600   Mosquitto's ACLs, generated from the registry

Nothing secret is ever logged or printed: logs name users and files, never passwords.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alerts import load_subscribers
from devices import (
    BrokerTls,
    CertificatePair,
    Credentials,
    Login,
    Registry,
    ServiceRole,
    acl_text,
    make_authority,
    make_certificate,
    parse_broker_url,
    parse_password_file,
    password_file_text,
    updated_credentials,
)
from smartcity.mosquitto_access import BrokerSecurity
from smartcity.settings import Settings

__all__ = [
    "SecurityPaths",
    "broker_security",
    "ensure_certificates",
    "load_credentials",
    "mqtt_login",
    "mqtt_tls",
    "reload_broker",
    "security_paths",
    "write_credentials",
]

log = logging.getLogger(__name__)

_PRIVATE = 0o600
_PUBLIC = 0o644


@dataclass(frozen=True, slots=True)
class SecurityPaths:
    """Where each piece of security material lives."""

    directory: Path
    credentials: Path
    password_file: Path
    acl_file: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def security_paths(settings: Settings) -> SecurityPaths:
    """The material's paths from the settings."""
    directory = Path(settings.security_dir)
    return SecurityPaths(
        directory=directory,
        credentials=Path(settings.credentials_path),
        password_file=directory / "passwd",
        acl_file=directory / "acl",
        ca_cert=directory / "ca.pem",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically, created with ``mode`` from the start (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)
    temporary.replace(path)


def ensure_certificates(settings: Settings, *, renew: bool = False) -> list[Path]:
    """Make the local CA, the server and the client certificate where missing (or all anew
    with ``renew``); return the files written."""
    paths = security_paths(settings)
    written: list[Path] = []
    valid_days = settings.certs_valid_days
    if renew or not (paths.ca_cert.exists() and paths.ca_key.exists()):
        authority = make_authority("smartcity local CA", valid_days=valid_days)
        _write(paths.ca_key, authority.key_pem, _PRIVATE)
        _write(paths.ca_cert, authority.cert_pem, _PUBLIC)
        written += [paths.ca_cert, paths.ca_key]
        renew = True  # what the old CA signed is no longer trusted
    else:
        authority = CertificatePair(paths.ca_cert.read_bytes(), paths.ca_key.read_bytes())
    hosts = [host.strip() for host in settings.certs_hosts.split(",") if host.strip()]
    wanted = (
        (paths.server_cert, paths.server_key, "smartcity broker", True),
        (paths.client_cert, paths.client_key, "smartcity client", False),
    )
    for cert_path, key_path, name, server in wanted:
        if renew or not (cert_path.exists() and key_path.exists()):
            pair = make_certificate(
                authority,
                name,
                hosts=hosts if server else (),
                server=server,
                valid_days=valid_days,
            )
            _write(key_path, pair.key_pem, _PRIVATE)
            _write(cert_path, pair.cert_pem, _PUBLIC)
            written += [cert_path, key_path]
    if written:
        log.info("certificates_written", extra={"files": [str(path) for path in written]})
    return written


def load_credentials(settings: Settings) -> Credentials | None:
    """The secrets file, or ``None`` when there is none yet (or security is off)."""
    if settings.insecure:
        return None
    path = security_paths(settings).credentials
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return Credentials.from_json(text, where=str(path))


def write_credentials(
    settings: Settings, registry: Registry, *, rotate: Iterable[str] = ()
) -> Credentials:
    """Give every registry device (and service user) a password, keeping existing ones unless
    rotated; write the secrets (0600), Mosquitto's password file and its ACLs."""
    paths = security_paths(settings)
    previous = load_credentials(settings) or Credentials()
    credentials = updated_credentials(previous, list(registry), rotate=rotate)
    hashes: dict[str, str] = {}
    with contextlib.suppress(FileNotFoundError):
        hashes = parse_password_file(paths.password_file.read_text(encoding="utf-8"))
    _write(paths.credentials, credentials.to_json().encode("utf-8"), _PRIVATE)
    text = password_file_text(credentials, previous=previous, previous_hashes=hashes)
    _write(paths.password_file, text.encode("utf-8"), _PRIVATE)
    acl = acl_text(registry.values(), relay_topics=_relay_topics(settings))
    _write(paths.acl_file, acl.encode("utf-8"), _PRIVATE)
    log.info(
        "credentials_written",
        extra={"devices": len(credentials.devices), "rotated": sorted(rotate)},
    )
    return credentials


def _relay_topics(settings: Settings) -> list[str]:
    """The MQTT topics the notification relay forwards to (its subscriber file), if any."""
    path = Path(settings.relay_config_path)
    if not path.exists():
        return []
    subscribers = load_subscribers(path)
    return [s.mqtt_topic for s in subscribers if s.mqtt_topic is not None]


def broker_security(settings: Settings, registry: Registry) -> BrokerSecurity:
    """Everything a secured local Mosquitto needs, made where missing, for this registry."""
    ensure_certificates(settings)
    write_credentials(settings, registry)
    paths = security_paths(settings)
    return BrokerSecurity(
        password_file=paths.password_file,
        acl_file=paths.acl_file,
        ca_file=paths.ca_cert,
        cert_file=paths.server_cert,
        key_file=paths.server_key,
    )


def mqtt_tls(settings: Settings, url: str) -> BrokerTls | None:
    """How to check an ``mqtts://`` broker: the configured CA and client certificate, else the
    local ones when they exist; ``None`` for plain ``mqtt://``."""
    if not parse_broker_url(url).tls:
        return None
    paths = security_paths(settings)
    ca = settings.mqtt_tls_ca or (paths.ca_cert if paths.ca_cert.exists() else None)
    cert, key = settings.mqtt_tls_cert, settings.mqtt_tls_key
    if cert is None and paths.client_cert.exists() and paths.client_key.exists():
        cert, key = paths.client_cert, paths.client_key
    return BrokerTls(ca_path=ca, cert_path=cert, key_path=key, verify=settings.mqtt_tls_verify)


def mqtt_login(settings: Settings, url: str, role: ServiceRole) -> Login | None:
    """Who a platform part logs in as: the URL's user if it names one, else the part's own
    ``platform.{role}`` user from the secrets file (when there is one)."""
    address = parse_broker_url(url)
    if address.username is not None:
        return Login(address.username, address.password or "")
    if settings.insecure:
        return None
    credentials = load_credentials(settings)
    return credentials.service_login(role) if credentials is not None else None


def reload_broker(pid: int) -> bool:
    """Ask a running Mosquitto to re-read its password file and ACLs (SIGHUP); ``False`` when
    ``pid`` is not a Mosquitto (gone, or the number reused by another program)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    if not command.endswith(b"mosquitto"):
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return False
    log.info("broker_reloaded", extra={"pid": pid})
    return True
