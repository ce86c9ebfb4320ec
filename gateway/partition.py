"""How several gateway workers split the fleet without splitting a device.

A shared subscription (``$share/group/...``) hands each message to whichever member is next, so
one device's messages would be spread over every worker and its ``seq`` and presence with them.
Instead each device has one owner, ``crc32(device_id) mod worker_count`` (stable across processes
and restarts), and each worker subscribes only to its own devices' uplink topics, under its own
persistent session. A worker that is down keeps its messages queued at the broker until it comes
back; no other worker takes them, so a device's state never moves.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from devices import UPLINK_CHANNELS, DeviceRecord, device_subscription

__all__ = ["owner_of", "partition_subscriptions"]


def owner_of(device_id: str, worker_count: int) -> int:
    """The index of the worker that owns a device."""
    return zlib.crc32(device_id.encode("utf-8")) % worker_count


def partition_subscriptions(
    registry: Mapping[str, DeviceRecord], worker_index: int, worker_count: int
) -> list[str]:
    """The exact uplink topics of the registry devices worker ``worker_index`` owns."""
    topics: list[str] = []
    for device_id, record in registry.items():
        if owner_of(device_id, worker_count) != worker_index:
            continue
        for channel in UPLINK_CHANNELS:
            topics.append(
                device_subscription(
                    district=record.district,
                    kind=record.kind,
                    device_id=device_id,
                    channel=channel,
                )
            )
    return topics
