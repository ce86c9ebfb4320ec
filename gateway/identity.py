"""Defence in depth: the device a topic names must be the client that published it.

The broker's ACLs are the enforcement (a device may publish only under its own id). This check
is for brokers that can tell the gateway who published, in an MQTT 5 user property they stamp
on each message (EMQX and VerneMQ can, through their rule engines or plugins; Mosquitto 2.0 does
not forward the publisher's identity, and a property a client sets itself proves nothing). With
``SMARTCITY_GATEWAY_PUBLISHER_PROPERTY`` set, a message is accepted only when every value of
that property names the topic's device, as its client id ``dev-{device_id}`` or its username
``{device_id}``, or is a trusted platform user (the simulators' pooled links speak for many
devices).
"""

from __future__ import annotations

from collections.abc import Collection

from devices import TopicInvalid, device_client_id, parse_topic
from gateway.errors import PayloadRejected

__all__ = ["check_publisher"]


def check_publisher(topic: str, publishers: tuple[str, ...], *, trusted: Collection[str]) -> None:
    """Raise ``PayloadRejected`` (``publisher_unknown`` / ``publisher_mismatch``) unless the
    publisher the broker names may speak for the topic's device."""
    try:
        device_id = parse_topic(topic).device_id
    except TopicInvalid:
        return  # not a device topic: the validator dead-letters it as such
    if not publishers:
        raise PayloadRejected(topic, "publisher_unknown", "the broker did not name the publisher")
    allowed = {device_id, device_client_id(device_id), *trusted}
    strangers = sorted(set(publishers) - allowed)
    if strangers:
        raise PayloadRejected(
            topic,
            "publisher_mismatch",
            f"published by {strangers[0][:64]!r}, not by device {device_id!r}",
        )
