"""What crosses to Alertmanager and back: alert labels and bodies, silence matchers, the
webhook payload, the relay's subscriber file and its de-duplication key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts import (
    AlertState,
    RelayConfigInvalid,
    WebhookPayload,
    alertmanager_labels,
    group_message,
    load_subscribers,
    notification_key,
    postable_alert,
)
from smartcity.cli_alerts import parse_matcher
from tests.alert_samples import cabinet_alert, lamp_alert

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_device_alert_carries_device_id_and_its_group_labels():
    labels = alertmanager_labels(lamp_alert("SL-0001", "C-01"))
    assert labels == {
        "alertname": "streetlight-offline",
        "severity": "info",
        "kind": "streetlight",
        "district": "centre",
        "team": "lighting",
        "device_id": "SL-0001",
        "cabinet": "C-01",
    }


def test_a_firing_alert_is_valid_for_its_resend_window_and_a_resolved_one_ends():
    alert = replace(cabinet_alert("C-01", 8), fired_at=T0, active_since=T0)
    body = postable_alert(alert, now=T0 + timedelta(minutes=5), valid_for=timedelta(minutes=4))
    assert body["startsAt"] == "2026-11-23T12:00:00Z"
    assert body["endsAt"] == "2026-11-23T12:09:00Z"
    assert body["annotations"]["summary"] == "Cabinet C-01: 8 of 8 lights without power (100 %)"
    done = replace(alert, state=AlertState.RESOLVED, resolved_at=T0 + timedelta(minutes=7))
    body = postable_alert(done, now=T0 + timedelta(hours=1), valid_for=timedelta(minutes=4))
    assert body["endsAt"] == "2026-11-23T12:07:00Z"


def test_a_held_alert_says_so_and_a_stale_one_says_why_it_resolved():
    alert = replace(cabinet_alert("C-01", 8), fired_at=T0, active_since=T0)
    held = replace(alert, held="gate closed at 05:12; held until the gate opens")
    body = postable_alert(held, now=T0, valid_for=timedelta(minutes=4))
    assert body["annotations"]["held"] == "gate closed at 05:12; held until the gate opens"
    assert (
        "held" not in postable_alert(alert, now=T0, valid_for=timedelta(minutes=4))["annotations"]
    )
    stale = replace(
        alert,
        state=AlertState.RESOLVED,
        resolved_at=T0 + timedelta(hours=4),
        resolution="reading stale: none since 20:00",
    )
    body = postable_alert(stale, now=T0 + timedelta(hours=4), valid_for=timedelta(minutes=4))
    assert body["annotations"]["resolution"] == "reading stale: none since 20:00"


@pytest.mark.parametrize(
    ("text", "shown", "regex", "equal"),
    [
        ("cabinet=C-01", "cabinet=C-01", False, True),
        ("device=SL-1", "device_id=SL-1", False, True),
        ("rule=lamp-failure", "alertname=lamp-failure", False, True),
        ("severity!=info", "severity!=info", False, False),
        ("alertname=~lamp-.*", "alertname=~lamp-.*", True, True),
        ("district!~north|south", "district!~north|south", True, False),
    ],
)
def test_matchers_parse_as_amtool_writes_them(text, shown, regex, equal):
    matcher = parse_matcher(text)
    assert (str(matcher), matcher.is_regex, matcher.is_equal) == (shown, regex, equal)


@pytest.mark.parametrize("text", ["device", "=x", "9a=b", "a="])
def test_a_matcher_without_label_and_value_is_refused(text):
    with pytest.raises(ValueError, match="is not label=value"):
        parse_matcher(text)


def payload(status: str = "firing", ends: str = "0001-01-01T00:00:00Z") -> WebhookPayload:
    return WebhookPayload.model_validate(
        {
            "version": "4",
            "groupKey": '{}/{team="lighting"}:{cabinet="C-01", district="centre"}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "lighting-oncall",
            "groupLabels": {"cabinet": "C-01", "district": "centre"},
            "commonLabels": {"alertname": "cabinet-power-lost"},
            "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093",
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": "cabinet-power-lost", "cabinet": "C-01"},
                    "annotations": {"summary": "Cabinet C-01: 8 of 8 lights without power"},
                    "startsAt": "2026-11-23T12:00:00Z",
                    "endsAt": ends,
                    "generatorURL": "",
                    "fingerprint": "0123456789abcdef",
                }
            ],
        }
    )


def test_a_retried_notification_has_the_same_key_and_a_resolution_another():
    assert notification_key(payload()) == notification_key(payload())
    assert notification_key(payload()) != notification_key(
        payload("resolved", "2026-11-23T12:30:00Z")
    )


def test_a_group_reads_as_a_title_and_a_line_per_alert():
    title, body = group_message(payload())
    assert title == "[FIRING] cabinet=C-01, district=centre (1 firing)"
    assert body == "- Cabinet C-01: 8 of 8 lights without power"


def test_the_shipped_subscriber_file_loads():
    (wall,) = load_subscribers("config/relay.yaml")
    assert wall.mqtt_topic == "city/wall/alerts"
    assert "lighting-oncall" in wall.receivers


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "subscribers: [{name: a, receivers: [x], mqtt_topc: t}]",
            "field 'subscribers.0.mqtt_topc'",
        ),
        ("subscribers: [{name: a, receivers: [x]}]", "subscriber 'a': needs mqtt_topic or apprise"),
        ("subscribers: [{name: a, receivers: [x], mqtt_topic: 'a/#'}]", "subscribers.0.mqtt_topic"),
        ("subscribers: [{name: a, receivers: [x], apprise: ['nope://x']}]", "apprise cannot use"),
    ],
)
def test_a_bad_subscriber_file_names_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "relay.yaml"
    path.write_text(text)
    with pytest.raises(RelayConfigInvalid, match=r"relay\.yaml") as caught:
        load_subscribers(path)
    assert message in str(caught.value)
