from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import Channel, Kind, Topic, TopicInvalid, alert_topic, deadletter_topic, parse_topic
from devices.topics import device_subscription, device_subscriptions

districts = st.from_regex(r"[a-z0-9-]{1,32}", fullmatch=True).filter(
    lambda d: d not in {"alerts", "deadletter", "platform"}
)
device_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)


@given(districts, st.sampled_from(Kind), device_ids, st.sampled_from(Channel))
def test_every_device_topic_round_trips(
    district: str, kind: Kind, device_id: str, channel: Channel
) -> None:
    topic = Topic(district, kind, device_id, channel)
    assert parse_topic(str(topic)) == topic


@given(st.text(max_size=200))
def test_parsing_any_text_gives_a_topic_or_topic_invalid(text: str) -> None:
    try:
        topic = parse_topic(text)
    except TopicInvalid as exc:
        assert exc.reason
    else:
        assert str(topic) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("city/riverside/streetlight/SL-1", "expected 5 levels"),
        ("town/riverside/streetlight/SL-1/telemetry", "root must be 'city'"),
        ("city/riverside/lamp/SL-1/telemetry", "unknown kind 'lamp'"),
        ("city/riverside/streetlight/SL-1/gossip", "unknown channel 'gossip'"),
        ("city/River Side/streetlight/SL-1/telemetry", "district 'River Side'"),
        ("city/alerts/streetlight/SL-1/telemetry", "reserved"),
        ("city/riverside/streetlight/SL 1/telemetry", "device id 'SL 1'"),
        ("city/riverside/streetlight/+/telemetry", "device id '+'"),
    ],
)
def test_bad_topics_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(TopicInvalid, match=reason.replace("+", r"\+")):
        parse_topic(text)


def matches(filter_: str, topic: str) -> bool:
    """MQTT topic filter matching for the single-level wildcard the gateway uses."""
    levels, parts = filter_.split("/"), topic.split("/")
    return len(levels) == len(parts) and all(
        level in ("+", part) for level, part in zip(levels, parts, strict=True)
    )


@given(districts, st.sampled_from(Kind), st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True))
def test_the_gateway_never_subscribes_to_the_platforms_own_output(
    district: str, kind: Kind, rule: str
) -> None:
    outputs = [deadletter_topic("out_of_range"), str(Topic(district, kind, "X-1", Channel.CMD))]
    try:
        outputs.append(alert_topic(district, kind, rule))
    except TopicInvalid:
        assert rule in {channel.value for channel in Channel}
    for topic in outputs:
        assert not any(matches(f, topic) for f in device_subscriptions())


def test_the_gateway_subscribes_to_every_uplink_channel() -> None:
    topic = Topic("riverside", Kind.STREETLIGHT, "SL-1", Channel.TELEMETRY)
    for channel in (Channel.TELEMETRY, Channel.EVENT, Channel.STATUS, Channel.CMD_RESULT):
        assert any(matches(f, str(topic.with_channel(channel))) for f in device_subscriptions())


def test_shared_subscription_names_its_group() -> None:
    assert (
        device_subscription(kind=Kind.CHECKPOINT, channel=Channel.EVENT, share_group="gw")
        == "$share/gw/city/+/checkpoint/+/event"
    )


def test_alert_and_platform_filters_match_what_they_say() -> None:
    from paho.mqtt.client import topic_matches_sub

    from devices import EVERY_TOPIC, alert_subscription

    alert = alert_topic("riverside", Kind.STREETLIGHT, "bench-latency")
    narrow = alert_subscription(kind=Kind.STREETLIGHT, rule="bench-latency")
    assert narrow == "city/alerts/+/streetlight/bench-latency"
    assert topic_matches_sub(narrow, alert)
    assert not topic_matches_sub(narrow, alert_topic("riverside", Kind.CHECKPOINT, "bench-latency"))
    assert alert_subscription() == "city/alerts/+/+/+"
    device = str(Topic("riverside", Kind.STREETLIGHT, "SL-1", Channel.TELEMETRY))
    for topic in (alert, device, deadletter_topic("malformed_json")):
        assert topic_matches_sub(EVERY_TOPIC, topic)
