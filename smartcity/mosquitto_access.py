"""Who may reach a local Mosquitto, and how: its listener, TLS and login lines.

Kept beside ``smartcity.stack`` (which runs the broker) so that the locking is read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["BrokerSecurity", "access_lines"]


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    """What a secured local Mosquitto needs: who may log in, what each may do, its TLS files.

    With it the broker has one listener, TLS on loopback, that requires a client certificate
    signed by the local CA, a password, and then obeys the ACLs; anonymous login is off. No plain
    listener is opened beside it: a second, unencrypted door that skips the certificate check is
    what ends up exposed when someone widens the bind address.
    """

    password_file: Path
    acl_file: Path
    ca_file: Path
    cert_file: Path
    key_file: Path


def access_lines(port: int, host: str, security: BrokerSecurity | None) -> list[str]:
    """The listener and access part of ``mosquitto.conf``: anonymous plain MQTT, or secured."""
    if security is None:
        return [f"listener {port} {host}", "allow_anonymous true"]
    return [
        f"listener {port} {host}",
        f"cafile {security.ca_file}",
        f"certfile {security.cert_file}",
        f"keyfile {security.key_file}",
        "require_certificate true",
        "tls_version tlsv1.2",
        "allow_anonymous false",
        f"password_file {security.password_file}",
        f"acl_file {security.acl_file}",
    ]
