"""Per-device credentials: Mosquitto's own hash format, kept secrets, rotation, no leaks."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from devices import (
    Credentials,
    CredentialsInvalid,
    ServiceRole,
    device_client_id,
    device_of_client_id,
    hash_password,
    parse_password_file,
    password_file_text,
    service_username,
    updated_credentials,
    verify_password,
)


def test_our_hash_is_the_one_mosquitto_passwd_writes(tmp_path: Path) -> None:
    binary = shutil.which("mosquitto_passwd")
    assert binary, "mosquitto_passwd (Debian package mosquitto) is missing"
    file = tmp_path / "passwd"
    subprocess.run([binary, "-b", "-c", str(file), "alice", "s3cret pässword"], check=True)
    theirs = parse_password_file(file.read_text())["alice"]
    salt = base64.b64decode(theirs.split("$")[3])
    assert hash_password("s3cret pässword", salt=salt) == theirs
    assert verify_password("s3cret pässword", theirs)
    assert not verify_password("s3cret password", theirs)


def test_mosquitto_passwd_reads_and_keeps_our_password_file(tmp_path: Path) -> None:
    binary = shutil.which("mosquitto_passwd")
    assert binary
    credentials = updated_credentials(Credentials(), ["SL-0001", "WQ-0001"])
    file = tmp_path / "passwd"
    file.write_text(password_file_text(credentials))
    # mosquitto_passwd parses every line to add one: ours must survive untouched
    subprocess.run([binary, "-b", str(file), "extra", "x"], check=True)
    entries = parse_password_file(file.read_text())
    login = credentials.device_login("SL-0001")
    assert login is not None
    assert verify_password(login.password, entries["SL-0001"])
    assert set(entries) >= {"SL-0001", "WQ-0001", "platform.gateway", "extra"}


def test_existing_passwords_are_kept_new_devices_get_one_and_removed_ones_lose_theirs() -> None:
    first = updated_credentials(Credentials(), ["A", "B"])
    second = updated_credentials(first, ["A", "C"])
    assert second.devices["A"] == first.devices["A"]
    assert "B" not in second.devices
    assert second.devices["C"].get_secret_value()
    assert second.services == first.services


def test_rotating_one_device_changes_only_its_password() -> None:
    first = updated_credentials(Credentials(), ["A", "B"])
    rotated = updated_credentials(first, ["A", "B"], rotate=["A"])
    assert rotated.devices["A"] != first.devices["A"]
    assert rotated.devices["B"] == first.devices["B"]


def test_rotating_a_device_not_in_the_registry_is_refused() -> None:
    with pytest.raises(CredentialsInvalid, match="not in the registry: Z"):
        updated_credentials(Credentials(), ["A"], rotate=["Z"])


def test_a_rewritten_password_file_rehashes_only_what_changed() -> None:
    first = updated_credentials(Credentials(), ["A", "B"])
    text = password_file_text(first)
    rotated = updated_credentials(first, ["A", "B"], rotate=["A"])
    again = parse_password_file(
        password_file_text(rotated, previous=first, previous_hashes=parse_password_file(text))
    )
    before = parse_password_file(text)
    assert again["B"] == before["B"]
    assert again["A"] != before["A"]
    login = rotated.device_login("A")
    assert login is not None
    assert verify_password(login.password, again["A"])


def test_the_secrets_file_round_trips_and_never_shows_a_password_in_a_repr() -> None:
    credentials = updated_credentials(Credentials(), ["SL-0001"])
    text = credentials.to_json()
    assert Credentials.from_json(text, where="x.json") == credentials
    password = credentials.devices["SL-0001"].get_secret_value()
    assert password in text
    assert password not in repr(credentials)
    assert password not in repr(credentials.device_login("SL-0001"))


def test_a_broken_secrets_file_names_the_file_and_never_the_password() -> None:
    with pytest.raises(CredentialsInvalid, match=r"x\.json: devices\.A"):
        Credentials.from_json('{"devices": {"A": 42}}', where="x.json")
    with pytest.raises(CredentialsInvalid, match=r"x\.json: not JSON") as caught:
        Credentials.from_json('{"devices": {"A": "hunter2"', where="x.json")
    assert "hunter2" not in str(caught.value)


def test_service_users_can_never_be_named_like_a_device() -> None:
    from devices.registry import DeviceRecord

    for role in ServiceRole:
        with pytest.raises(ValueError, match="id"):
            DeviceRecord(id=service_username(role), kind="checkpoint", district="centre")


def test_the_client_id_scheme_names_the_device() -> None:
    assert device_client_id("SL-0001") == "dev-SL-0001"
    assert device_of_client_id("dev-SL-0001") == "SL-0001"
    assert device_of_client_id("smartcity-gateway") is None
