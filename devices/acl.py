"""Mosquitto 2.0 ACLs generated from the registry: every user gets the least it needs.

The ``acl_file`` format: ``user NAME`` starts a user's block, ``topic read|write|readwrite
FILTER`` lines grant access, and ``pattern`` lines (with ``%u`` the username, ``%c`` the client
id) apply to every client. Whatever no line grants is denied; a client with no username gets
nothing at all (and anonymous login is off whenever security is on).

Devices are covered by ``pattern`` lines, one set for the whole fleet: a device (whose username is
its id) may publish its four uplink channels only on topics whose device level is its own id, and
subscribe only to its own ``cmd`` topic::

    pattern write city/+/+/%u/telemetry
    pattern read city/+/+/%u/cmd

Not one ``user`` block per device: Mosquitto 2.0.11 looks up the user for every ACL line while
loading, so 10,000 device blocks took 3 s to load and 100,000 over a minute, on every start and
every reload (a rotation). The patterns leave district and kind free, but a device publishing
under its own id in another district or kind is still speaking only for itself, and the
gateway's registry check dead-letters it (``district_mismatch``, ``kind_mismatch``). A
``platform.*`` username contains a ``.``, which no device id has, so the patterns grant a
platform user nothing a device topic can reach. The platform's users:

| user | may |
| --- | --- |
| ``platform.gateway`` | read every device's uplink channels; write dead letters |
| ``platform.engine`` | write alerts |
| ``platform.relay`` | write alerts and the relay's configured topics (wall screens) |
| ``platform.api`` | write every device's ``cmd``; read ``cmd_result`` and ``status`` |
| ``platform.simulator`` | in the registry's districts and kinds: write uplink, read ``cmd`` |
| ``platform.monitor`` | read alerts, dead letters and the relay's topics |
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from devices.credentials import ServiceRole, service_username
from devices.registry import DeviceRecord
from devices.topics import (
    UPLINK_CHANNELS,
    Channel,
    Kind,
    alert_filter,
    deadletter_filter,
    device_subscription,
)

__all__ = ["Access", "Grant", "acl_text", "device_patterns", "service_grants"]

_USERNAME = "%u"  # Mosquitto substitutes the client's username


class Access(StrEnum):
    """What a grant allows: subscribing and receiving (read), publishing (write)."""

    READ = "read"
    WRITE = "write"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Grant:
    """One ACL line: ``topic {access} {topic_filter}``."""

    access: Access
    topic_filter: str


def device_patterns() -> list[Grant]:
    """The fleet's ``pattern`` lines: ``%u`` (the username) is the device's own id.

    The wildcard district level would also match ``city/alerts/...`` and
    ``city/deadletter/...``, where a device could then plant a message for the alert and
    dead-letter subscribers to see: those roots are denied first. (Mosquitto checks a user's own
    lines before the patterns, so the platform users that write there still may.)
    """
    grants = [Grant(Access.DENY, alert_filter()), Grant(Access.DENY, deadletter_filter())]
    grants += [
        Grant(Access.WRITE, device_subscription(device_id=_USERNAME, channel=channel))
        for channel in UPLINK_CHANNELS
    ]
    grants.append(Grant(Access.READ, device_subscription(device_id=_USERNAME, channel=Channel.CMD)))
    return grants


def service_grants(
    role: ServiceRole, devices: Iterable[DeviceRecord], *, relay_topics: Iterable[str] = ()
) -> list[Grant]:
    """What one platform user may do; the simulator's reach follows the registry, the relay's
    the topics its subscribers are configured with."""
    relayed = sorted(set(relay_topics))
    if role is ServiceRole.GATEWAY:
        grants = [
            Grant(Access.READ, device_subscription(channel=channel)) for channel in UPLINK_CHANNELS
        ]
        return [*grants, Grant(Access.WRITE, deadletter_filter())]
    if role is ServiceRole.ENGINE:
        return [Grant(Access.WRITE, alert_filter())]
    if role is ServiceRole.RELAY:
        return [Grant(Access.WRITE, alert_filter())] + [
            Grant(Access.WRITE, topic) for topic in relayed
        ]
    if role is ServiceRole.API:
        return [
            Grant(Access.WRITE, device_subscription(channel=Channel.CMD)),
            Grant(Access.READ, device_subscription(channel=Channel.CMD_RESULT)),
            Grant(Access.READ, device_subscription(channel=Channel.STATUS)),
        ]
    if role is ServiceRole.COMMAND:
        return [
            # it reads every engine's alert changes (the one incident service of compose)
            Grant(Access.READ, alert_filter()),
            Grant(Access.WRITE, alert_filter()),
            Grant(Access.WRITE, device_subscription(channel=Channel.CMD)),
            Grant(Access.READ, device_subscription(channel=Channel.CMD_RESULT)),
        ]
    if role is ServiceRole.SIMULATOR:
        places = sorted({(device.district, device.kind) for device in devices})
        return [grant for district, kind in places for grant in _place_grants(district, kind)]
    watched = [Grant(Access.READ, alert_filter()), Grant(Access.READ, deadletter_filter())]
    return watched + [Grant(Access.READ, topic) for topic in relayed]


def _place_grants(district: str, kind: Kind) -> list[Grant]:
    grants = [
        Grant(Access.WRITE, device_subscription(district=district, kind=kind, channel=channel))
        for channel in UPLINK_CHANNELS
    ]
    grants.append(
        Grant(Access.READ, device_subscription(district=district, kind=kind, channel=Channel.CMD))
    )
    return grants


def acl_text(devices: Iterable[DeviceRecord], *, relay_topics: Iterable[str] = ()) -> str:
    """Mosquitto's ``acl_file``: the platform's users, then the fleet's patterns."""
    fleet = list(devices)
    relayed = list(relay_topics)
    lines = [
        "# Generated by `smartcity devices credentials` from the registry; do not edit.",
        "# What no line grants is denied; anonymous clients are refused by the listener.",
    ]
    for role in ServiceRole:
        lines.append("")
        lines.append(f"user {service_username(role)}")
        grants = service_grants(role, fleet, relay_topics=relayed)
        lines.extend(_line("topic", grant) for grant in grants)
    lines.append("")
    lines.append("# every device (username = its id): its own uplink and its own cmd topic,")
    lines.append("# never under the platform's alert and dead-letter roots")
    lines.extend(_line("pattern", grant) for grant in device_patterns())
    return "\n".join(lines) + "\n"


def _line(keyword: str, grant: Grant) -> str:
    return f"{keyword} {grant.access.value} {grant.topic_filter}"
