"""Per-device and per-service broker credentials: who may log in, with which password.

Pure functions: a registry and the secrets kept so far go in, the secrets to keep and
Mosquitto's password file come out; the front door writes the files.

Every registry device logs in as its own id with a password of its own. The platform's parts log
in as ``platform.{role}``: a ``.`` cannot occur in a device id (``[A-Za-z0-9_-]``), so no device
can ever be named like a service user. A device's dedicated connection uses the client id
``dev-{device_id}``, the scheme the gateway checks a publisher against when the broker tells it.

The password file is the one ``mosquitto_passwd`` writes for Mosquitto 2.0:
``user:$7$iterations$base64(salt)$base64(PBKDF2-HMAC-SHA512(password, salt))``, 12 bytes of
salt, a 64-byte hash, 101 iterations (``mosquitto_passwd``'s own default; the broker pays them
on every login).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from devices.errors import CredentialsInvalid

__all__ = [
    "DEVICE_CLIENT_ID_PREFIX",
    "PASSWORD_HASH_ITERATIONS",
    "Credentials",
    "Login",
    "ServiceRole",
    "device_client_id",
    "device_of_client_id",
    "generate_password",
    "hash_password",
    "parse_password_file",
    "password_file_text",
    "service_username",
    "updated_credentials",
    "verify_password",
]

DEVICE_CLIENT_ID_PREFIX = "dev-"
PASSWORD_HASH_ITERATIONS = 101
_SALT_BYTES = 12
_HASH_BYTES = 64
_SERVICE_PREFIX = "platform."
_HASH_PATTERN = re.compile(r"\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)")


class ServiceRole(StrEnum):
    """The platform's own broker users; what each may do is in ``devices.acl``."""

    GATEWAY = "gateway"  # reads every device's uplink, publishes dead letters
    ENGINE = "engine"  # publishes alert changes
    RELAY = "relay"  # the notification relay: publishes alerts for MQTT subscribers
    API = "api"  # the operators' API: sends downlink commands, reads their replies
    SIMULATOR = "simulator"  # the simulators' pooled links: speak for the simulated fleet
    COMMAND = "command"  # emergency command: incident notifications, plan steps' commands
    MONITOR = "monitor"  # people and tools that watch alerts and dead letters, read-only


def service_username(role: ServiceRole) -> str:
    """The broker user of a platform part: ``platform.gateway`` and so on."""
    return _SERVICE_PREFIX + role.value


def device_client_id(device_id: str) -> str:
    """The MQTT client id of a device's own connection: ``dev-{device_id}``."""
    return DEVICE_CLIENT_ID_PREFIX + device_id


def device_of_client_id(client_id: str) -> str | None:
    """The device a ``dev-{device_id}`` client id names, or ``None`` for any other client."""
    if client_id.startswith(DEVICE_CLIENT_ID_PREFIX):
        return client_id[len(DEVICE_CLIENT_ID_PREFIX) :] or None
    return None


@dataclass(frozen=True, slots=True)
class Login:
    """A username and its password; the password never shows in a repr."""

    username: str
    password: str = field(repr=False)


class Credentials(BaseModel):
    """The secrets: each device's and each service user's password (the file kept at 0600)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1, le=1)
    devices: dict[str, SecretStr] = Field(default_factory=dict)
    services: dict[ServiceRole, SecretStr] = Field(default_factory=dict)

    def device_login(self, device_id: str) -> Login | None:
        """A device's login (its id and password), if it has one."""
        secret = self.devices.get(device_id)
        return Login(device_id, secret.get_secret_value()) if secret is not None else None

    def service_login(self, role: ServiceRole) -> Login | None:
        """A platform part's login, if it has one."""
        secret = self.services.get(role)
        if secret is None:
            return None
        return Login(service_username(role), secret.get_secret_value())

    def logins(self) -> list[Login]:
        """Every login: services first, then devices in registry order."""
        found = [self.service_login(role) for role in ServiceRole]
        found += [self.device_login(device_id) for device_id in self.devices]
        return [login for login in found if login is not None]

    def to_json(self) -> str:
        """The secrets file's text (passwords in clear: write it with mode 0600)."""
        document = {
            "version": self.version,
            "services": {
                role.value: secret.get_secret_value() for role, secret in self.services.items()
            },
            "devices": {
                device_id: secret.get_secret_value() for device_id, secret in self.devices.items()
            },
        }
        return json.dumps(document, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str) -> Credentials:
        """Read a secrets file; errors name the file and the entry, never a password."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CredentialsInvalid(where, f"not JSON (line {exc.lineno})") from None
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            location = ".".join(str(part) for part in error["loc"])
            raise CredentialsInvalid(where, f"{location}: {error['msg']}") from None


def generate_password() -> str:
    """A fresh random password: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


def updated_credentials(
    current: Credentials,
    device_ids: Iterable[str],
    *,
    rotate: Iterable[str] = (),
    given: Mapping[str, str] | None = None,
) -> Credentials:
    """The secrets for a registry: kept where they exist, generated where they do not.

    ``rotate`` names devices (or ``platform.{role}`` users) that get a new password; ``given``
    sets passwords chosen elsewhere (a provisioning system). Devices no longer in the registry
    lose their credentials, so a removed device can no longer log in.
    """
    rotating = set(rotate)
    chosen = dict(given or {})
    wanted = list(device_ids)
    unknown = rotating - set(wanted) - {service_username(role) for role in ServiceRole}
    if unknown:
        raise CredentialsInvalid("rotate", f"not in the registry: {', '.join(sorted(unknown))}")
    devices: dict[str, SecretStr] = {}
    for device_id in wanted:
        if device_id in chosen:
            devices[device_id] = SecretStr(chosen[device_id])
        elif device_id in current.devices and device_id not in rotating:
            devices[device_id] = current.devices[device_id]
        else:
            devices[device_id] = SecretStr(generate_password())
    services: dict[ServiceRole, SecretStr] = {}
    for role in ServiceRole:
        name = service_username(role)
        if role in current.services and name not in rotating:
            services[role] = current.services[role]
        else:
            services[role] = SecretStr(generate_password())
    return Credentials(devices=devices, services=services)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Mosquitto 2.0's ``$7$`` hash of a password (PBKDF2-HMAC-SHA512), as mosquitto_passwd."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac(
        "sha512", password.encode("utf-8"), salt, PASSWORD_HASH_ITERATIONS, _HASH_BYTES
    )
    encoded_salt = base64.b64encode(salt).decode("ascii")
    encoded_digest = base64.b64encode(digest).decode("ascii")
    return f"$7${PASSWORD_HASH_ITERATIONS}${encoded_salt}${encoded_digest}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (compared in constant time)."""
    found = _HASH_PATTERN.fullmatch(hashed)
    if found is None:
        return False
    iterations = int(found.group(1))
    salt = base64.b64decode(found.group(2))
    expected = base64.b64decode(found.group(3))
    digest = hashlib.pbkdf2_hmac(
        "sha512", password.encode("utf-8"), salt, iterations, len(expected)
    )
    return hmac.compare_digest(digest, expected)


def password_file_text(
    credentials: Credentials,
    *,
    previous: Credentials | None = None,
    previous_hashes: Mapping[str, str] | None = None,
) -> str:
    """Mosquitto's password file for every login: one ``user:$7$...`` line each.

    A login whose password is the same as in ``previous`` keeps its hash from
    ``previous_hashes`` (the file written then), so rewriting the file after one rotation costs
    one PBKDF2 run, not one per device.
    """
    old_logins = {login.username: login.password for login in previous.logins()} if previous else {}
    hashes = previous_hashes or {}
    lines = []
    for login in credentials.logins():
        old_password = old_logins.get(login.username)
        old_hash = hashes.get(login.username)
        unchanged = old_password is not None and hmac.compare_digest(
            old_password.encode("utf-8"), login.password.encode("utf-8")
        )
        hashed = old_hash if unchanged and old_hash else hash_password(login.password)
        lines.append(f"{login.username}:{hashed}")
    return "\n".join(lines) + "\n"


def parse_password_file(text: str) -> dict[str, str]:
    """A password file's ``user → hash`` (lines that are not ``user:hash`` are skipped)."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        user, sep, hashed = line.strip().partition(":")
        if sep and user and not user.startswith("#"):
            entries[user] = hashed
    return entries
