"""Bearer tokens for the operators' API: made once, stored hashed, checked in constant time.

A token reads ``sct_<id>_<secret>``: the id (12 hex digits) names the token in lists and
revocations, the secret (256 random bits) is what proves it. Only the SHA-256 of the whole token
is stored, in a JSON file of mode 0600; a token is a high-entropy secret, not a password, so a
fast hash loses nothing to guessing and keeps each check to a microsecond. The file is read again
whenever it changes, so ``smartcity api token create|revoke`` take effect on a running API.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from api.errors import TokenFileInvalid, TokenNameTaken, TokenNotFound

__all__ = ["IssuedToken", "Scope", "TokenRecord", "TokenStore"]

log = logging.getLogger(__name__)

_PREFIX = "sct"
_TOKEN_PATTERN = re.compile(rf"{_PREFIX}_([0-9a-f]{{12}})_[A-Za-z0-9_-]{{43}}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class Scope(StrEnum):
    """What a token may do; each scope includes the ones before it."""

    READ = "read"  # alerts, devices, commands, health
    OPERATE = "operate"  # + send commands (and acknowledge, silence)
    ADMIN = "admin"  # + manage tokens

    def allows(self, needed: Scope) -> bool:
        """Whether a token of this scope may do what needs ``needed``."""
        order = list(Scope)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token: everything but the secret, which only its holder has."""

    id: str
    name: str
    scope: Scope
    sha256: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made: ``secret`` is shown once and kept nowhere."""

    record: TokenRecord
    secret: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """The token file. Thread-safe; every call is a few file-system operations at most."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._tokens: dict[str, TokenRecord] = {}

    # --- checking ------------------------------------------------------------------------------

    def verify(self, presented: str) -> TokenRecord | None:
        """The token's record if ``presented`` is a live token, else ``None``.

        The id picks the one candidate; the digests are then compared with
        ``hmac.compare_digest``, whose time does not depend on where they differ.
        """
        match = _TOKEN_PATTERN.fullmatch(presented)
        if match is None:
            return None
        try:
            tokens = self._current()
        except TokenFileInvalid as exc:
            # fail closed: a token file we cannot trust lets nobody in
            log.error("api_token_file_invalid", extra={"path": str(exc.path), "reason": exc.reason})
            return None
        record = tokens.get(match.group(1))
        if record is None:
            return None
        if not hmac.compare_digest(_digest(presented), record.sha256):
            return None
        return record

    def check(self) -> int:
        """Read the file now (at start, to fail early); the number of live tokens."""
        return len(self._current())

    # --- managing ------------------------------------------------------------------------------

    def create(self, name: str, scope: Scope, *, now: datetime | None = None) -> IssuedToken:
        """Make a token, store its hash, and return it (the only time the secret exists)."""
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"token name {name!r} is not [A-Za-z0-9_.@-]{{1,64}}")
        with self._locked_file():
            tokens = self._read()
            if any(record.name == name for record in tokens.values()):
                raise TokenNameTaken(name)
            token_id = secrets.token_hex(6)
            while token_id in tokens:  # pragma: no cover - 48 random bits
                token_id = secrets.token_hex(6)
            secret = f"{_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
            record = TokenRecord(
                id=token_id,
                name=name,
                scope=scope,
                sha256=_digest(secret),
                created_at=(now or datetime.now(UTC)).replace(microsecond=0),
            )
            tokens[token_id] = record
            self._write(tokens)
        log.info(
            "api_token_created",
            extra={"token_id": token_id, "token_name": name, "scope": scope.value},
        )
        return IssuedToken(record, secret)

    def list(self) -> list[TokenRecord]:
        """Every live token, oldest first."""
        return sorted(self._current().values(), key=lambda record: record.created_at)

    def revoke(self, key: str) -> TokenRecord:
        """Remove the token with this id or name; it stops working at once."""
        with self._locked_file():
            tokens = self._read()
            found = tokens.get(key) or next(
                (record for record in tokens.values() if record.name == key), None
            )
            if found is None:
                raise TokenNotFound(key)
            del tokens[found.id]
            self._write(tokens)
        log.info("api_token_revoked", extra={"token_id": found.id, "token_name": found.name})
        return found

    # --- the file ------------------------------------------------------------------------------

    def _current(self) -> dict[str, TokenRecord]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TokenFileInvalid(self.path, f"cannot read: {exc.strerror}") from exc
        seen = (info.st_ino, info.st_mtime_ns, info.st_size)
        with self._lock:
            if seen != self._seen:
                self._tokens = self._read()
                self._seen = seen
            return self._tokens

    def _read(self) -> dict[str, TokenRecord]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TokenFileInvalid(self.path, f"cannot read: {exc.strerror}") from exc
        if info.st_mode & 0o077:
            raise TokenFileInvalid(
                self.path,
                f"is open to other users (mode {info.st_mode & 0o777:04o}); chmod 600 it",
            )
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            entries = document["tokens"]
            records = [
                TokenRecord(
                    id=str(entry["id"]),
                    name=str(entry["name"]),
                    scope=Scope(entry["scope"]),
                    sha256=str(entry["sha256"]),
                    created_at=datetime.fromisoformat(entry["created_at"]),
                )
                for entry in entries
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TokenFileInvalid(self.path, f"not a token file: {exc}") from exc
        return {record.id: record for record in records}

    def _write(self, tokens: dict[str, TokenRecord]) -> None:
        document = {
            "tokens": [
                {
                    "id": record.id,
                    "name": record.name,
                    "scope": record.scope.value,
                    "sha256": record.sha256,
                    "created_at": record.created_at.isoformat(),
                }
                for record in sorted(tokens.values(), key=lambda record: record.created_at)
            ]
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        # created 0600 from the first byte: never a moment when others could read it
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        temporary.replace(self.path)

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[None]:
        """One writer at a time across processes (two ``token create`` at once keep both)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        descriptor = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)
