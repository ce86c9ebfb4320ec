from __future__ import annotations

import pytest

from devices import BrokerAddress, BrokerUrlInvalid, parse_broker_url


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("mqtt://127.0.0.1:1884", BrokerAddress("127.0.0.1", 1884, None, None, False)),
        ("mqtt://broker", BrokerAddress("broker", 1883, None, None, False)),
        ("mqtts://broker", BrokerAddress("broker", 8883, None, None, True)),
        ("tcp://gw:p%40ss@broker:1", BrokerAddress("broker", 1, "gw", "p@ss", False)),
    ],
)
def test_broker_urls_name_host_port_user_and_tls(url: str, address: BrokerAddress) -> None:
    assert parse_broker_url(url) == address


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://broker:1883", "must start with mqtt://"), ("mqtt://broker:99999", "out of range")],
)
def test_a_bad_broker_url_says_why_without_its_password(url: str, reason: str) -> None:
    with pytest.raises(BrokerUrlInvalid, match=reason):
        parse_broker_url(url)
    with pytest.raises(BrokerUrlInvalid) as caught:
        parse_broker_url("http://user:s3cret@broker")
    assert "s3cret" not in str(caught.value)


def test_a_shown_url_hides_the_password() -> None:
    from devices import shown_url

    assert shown_url("mqtts://gw:s3cret@broker:8883") == "mqtts://gw:***@broker:8883"
    assert shown_url("mqtt://broker:1883") == "mqtt://broker:1883"


def test_the_password_never_shows_in_a_parsed_address() -> None:
    assert "s3cret" not in repr(parse_broker_url("mqtts://gw:s3cret@broker"))
