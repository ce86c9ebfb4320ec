"""Defence in depth: when the broker names the publisher, it must be the topic's device."""

from __future__ import annotations

import pytest

from gateway import PayloadRejected
from gateway.identity import check_publisher

TOPIC = "city/centre/streetlight/SL-0001/telemetry"
TRUSTED = {"platform.simulator"}


@pytest.mark.parametrize("publisher", ["dev-SL-0001", "SL-0001", "platform.simulator"])
def test_the_device_itself_or_a_trusted_pool_may_publish(publisher: str) -> None:
    check_publisher(TOPIC, (publisher,), trusted=TRUSTED)


@pytest.mark.parametrize(
    "publishers", [("dev-SL-0002",), ("SL-0002",), ("dev-SL-0001", "dev-SL-0002")]
)
def test_another_client_on_the_devices_topic_is_rejected(publishers: tuple[str, ...]) -> None:
    with pytest.raises(PayloadRejected) as caught:
        check_publisher(TOPIC, publishers, trusted=TRUSTED)
    assert caught.value.reason == "publisher_mismatch"
    assert "SL-0002" in caught.value.detail


def test_a_message_without_the_property_is_rejected() -> None:
    with pytest.raises(PayloadRejected) as caught:
        check_publisher(TOPIC, (), trusted=TRUSTED)
    assert caught.value.reason == "publisher_unknown"
