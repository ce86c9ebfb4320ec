"""API tokens: shown once, stored only as a hash in a 0600 file, revocable, failing closed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from api import Scope, TokenFileInvalid, TokenNameTaken, TokenNotFound, TokenStore


def test_a_new_token_is_verified_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    issued = store.create("alice", Scope.OPERATE)
    text = store.path.read_text()
    assert issued.secret not in text
    assert hashlib.sha256(issued.secret.encode()).hexdigest() in text
    assert os.stat(store.path).st_mode & 0o777 == 0o600
    record = store.verify(issued.secret)
    assert record is not None
    assert (record.name, record.scope) == ("alice", Scope.OPERATE)


def test_a_token_that_differs_in_one_character_is_refused(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    secret = store.create("alice", Scope.READ).secret
    last = "A" if secret[-1] != "A" else "B"
    assert store.verify(secret[:-1] + last) is None
    assert store.verify("") is None
    assert store.verify("not a token at all") is None


def test_a_token_made_or_revoked_by_another_process_counts_at_once(tmp_path: Path) -> None:
    running = TokenStore(tmp_path / "tokens.json")  # the API's view
    cli = TokenStore(tmp_path / "tokens.json")  # smartcity api token ...
    assert running.check() == 0
    secret = cli.create("bob", Scope.READ).secret
    assert running.verify(secret) is not None
    cli.revoke("bob")
    assert running.verify(secret) is None


def test_names_are_unique_and_revoking_an_unknown_token_says_so(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    first = store.create("alice", Scope.ADMIN)
    with pytest.raises(TokenNameTaken, match="alice"):
        store.create("alice", Scope.READ)
    with pytest.raises(TokenNotFound, match="nobody"):
        store.revoke("nobody")
    assert [record.id for record in store.list()] == [first.record.id]
    assert store.revoke(first.record.id).name == "alice"
    assert store.list() == []


def test_a_token_file_others_can_read_stops_the_start_and_lets_nobody_in(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    secret = store.create("alice", Scope.ADMIN).secret
    os.chmod(store.path, 0o644)
    with pytest.raises(TokenFileInvalid, match=r"tokens\.json: is open to other users"):
        TokenStore(store.path).check()
    assert store.verify(secret) is None


def test_scopes_include_the_narrower_ones() -> None:
    assert Scope.ADMIN.allows(Scope.OPERATE)
    assert Scope.OPERATE.allows(Scope.READ)
    assert not Scope.READ.allows(Scope.OPERATE)
    assert not Scope.OPERATE.allows(Scope.ADMIN)
