"""The channels Alertmanager lacks: its webhook forwarded to MQTT topics and ``apprise`` URLs.

```python
relay = AlertRelay(load_subscribers("config/relay.yaml"), publish=publisher.publish,
                   seen=DeliveryLog(".smartcity/relay.sqlite"), dedup_window_s=1800)
outcome = await relay.handle(WebhookPayload.model_validate_json(body))   # the API's handler
```

An Alertmanager receiver whose webhook points at the platform (``POST /hooks/alertmanager``,
served by the API) has each of its notifications - one group - forwarded to every subscriber
that names that receiver: as one JSON message on the subscriber's MQTT topic (wall screens),
and as one message to each of its apprise URLs (DingTalk, Feishu, an SMS gateway, ...).

Alertmanager retries a webhook that failed; each (notification, subscriber, channel) that was
delivered is remembered on disk for ``dedup_window_s``, so a retry sends only what failed
before, and nothing twice. When a channel fails, ``handle`` raises ``RelayDeliveryFailed``
after trying the others: answer 5xx, and Alertmanager retries.

``publish(topic, payload)`` is the MQTT side: any coroutine function that delivers one message
or raises. The platform gives ``MqttAlertPublisher.publish``, a connection of its own that
comes back after a broker restart (a bare ``aiomqtt.Client`` does not).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import apprise
import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.errors import AlertsError, RelayConfigInvalid
from devices import open_state_file

__all__ = [
    "AlertRelay",
    "DeliveryLog",
    "MqttPublish",
    "RelayDeliveryFailed",
    "RelayOutcome",
    "Subscriber",
    "WebhookAlert",
    "WebhookPayload",
    "group_message",
    "load_subscribers",
    "notification_key",
]

log = logging.getLogger(__name__)

MqttPublish = Callable[[str, bytes], Awaitable[None]]
"""Deliver one message on an MQTT topic, or raise (the relay answers 503 and is retried)."""


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class WebhookAlert(_Wire):
    """One alert of a notification, as Alertmanager's webhook (version 4) sends it."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime = Field(alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str


class WebhookPayload(_Wire):
    """Alertmanager's webhook body: one notification of one group to one receiver."""

    version: str
    group_key: str = Field(alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    status: Literal["firing", "resolved"]
    receiver: str
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: tuple[WebhookAlert, ...]


class Subscriber(BaseModel):
    """Who wants which receivers' notifications, where: an MQTT topic, apprise URLs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    receivers: tuple[Annotated[str, Field(min_length=1)], ...] = Field(min_length=1)
    mqtt_topic: Annotated[str, Field(pattern=r"^[^#+\x00]{1,256}$")] | None = None
    apprise: tuple[Annotated[str, Field(min_length=3)], ...] = ()


class _SubscriberFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subscribers: tuple[Subscriber, ...] = ()


def load_subscribers(path: str | Path) -> tuple[Subscriber, ...]:
    """Read the relay's subscriber file; ``RelayConfigInvalid`` names the file and field."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        parsed = _SubscriberFile.model_validate(document)
    except OSError as exc:
        raise RelayConfigInvalid(str(path), f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise RelayConfigInvalid(str(path), f"not YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RelayConfigInvalid(str(path), f"field {where!r}: {first['msg']}") from exc
    for subscriber in parsed.subscribers:
        if subscriber.mqtt_topic is None and not subscriber.apprise:
            raise RelayConfigInvalid(
                str(path), f"subscriber {subscriber.name!r}: needs mqtt_topic or apprise"
            )
        for url in subscriber.apprise:
            if not apprise.Apprise().add(url):
                raise RelayConfigInvalid(
                    str(path), f"subscriber {subscriber.name!r}: apprise cannot use {url[:12]}..."
                )
    return parsed.subscribers


def notification_key(payload: WebhookPayload) -> str:
    """The same notification retried by Alertmanager has the same key; a new one (another
    alert in the group, a resolution, a repeat with renewed alerts) has another."""
    parts = [payload.receiver, payload.group_key, payload.status]
    for alert in sorted(payload.alerts, key=lambda a: a.fingerprint):
        parts += [alert.fingerprint, alert.status, alert.starts_at.isoformat()]
        parts.append(alert.ends_at.isoformat())
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def group_message(payload: WebhookPayload) -> tuple[str, str]:
    """A short title and a plain-text body for chat and SMS, one line per alert."""
    firing = [a for a in payload.alerts if a.status == "firing"]
    resolved = [a for a in payload.alerts if a.status == "resolved"]
    subject = ", ".join(f"{k}={v}" for k, v in sorted(payload.group_labels.items()))
    counts = f"{len(firing)} firing" + (f", {len(resolved)} resolved" if resolved else "")
    title = f"[{payload.status.upper()}] {subject} ({counts})"
    lines = []
    for alert in (*firing, *resolved):
        mark = "RESOLVED " if alert.status == "resolved" else ""
        summary = alert.annotations.get("summary") or alert.labels.get("alertname", "")
        lines.append(f"- {mark}{summary}")
    if payload.truncated_alerts:
        lines.append(f"- and {payload.truncated_alerts} more")
    return title, "\n".join(lines)


def _mqtt_document(payload: WebhookPayload) -> dict[str, Any]:
    title, body = group_message(payload)
    return {
        "receiver": payload.receiver,
        "status": payload.status,
        "group_labels": payload.group_labels,
        "common_labels": payload.common_labels,
        "title": title,
        "text": body,
        "alerts": [
            {
                "status": a.status,
                "labels": a.labels,
                "annotations": a.annotations,
                "starts_at": a.starts_at.isoformat(),
                "ends_at": a.ends_at.isoformat() if a.status == "resolved" else None,
            }
            for a in payload.alerts
        ],
    }


_DELIVERED_SCHEMA = "CREATE TABLE IF NOT EXISTS delivered (key TEXT PRIMARY KEY, at REAL NOT NULL);"


class DeliveryLog:
    """Which (notification, subscriber, channel) were delivered, on disk (SQLite)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_state_file(
            self.path,
            "CREATE TABLE IF NOT EXISTS delivered (key TEXT PRIMARY KEY, at REAL NOT NULL);",
        )

    def seen(self, key: str, window_s: float) -> bool:
        """Whether ``key`` was delivered within the last ``window_s``."""
        with self._lock:
            row = self._db.execute("SELECT at FROM delivered WHERE key = ?", (key,)).fetchone()
        return row is not None and time.time() - float(row[0]) < window_s

    def remember(self, key: str, window_s: float) -> None:
        """Record a delivery now; forget those older than the window."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO delivered VALUES (?, ?)", (key, now))
            self._db.execute("DELETE FROM delivered WHERE at < ?", (now - window_s,))

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class RelayDeliveryFailed(AlertsError):
    """Some channels could not be reached; the others were delivered (and remembered)."""

    def __init__(self, failures: Sequence[str]) -> None:
        self.failures = tuple(failures)
        super().__init__("relay could not deliver: " + "; ".join(failures))


@dataclass(frozen=True, slots=True)
class RelayOutcome:
    """What one webhook call did: channels delivered now, and those skipped as already sent."""

    delivered: tuple[str, ...]
    duplicates: tuple[str, ...]


class AlertRelay:
    """Forwards Alertmanager's webhook notifications to MQTT topics and apprise URLs."""

    def __init__(
        self,
        subscribers: Sequence[Subscriber],
        *,
        publish: MqttPublish | None,
        seen: DeliveryLog,
        dedup_window_s: float,
        timeout_s: float = 10.0,
    ) -> None:
        self.subscribers = tuple(subscribers)
        self._publish = publish
        self._seen = seen
        self._window_s = dedup_window_s
        self._timeout_s = timeout_s
        self.delivered = 0
        self.duplicates = 0
        self.failed = 0

    async def handle(self, payload: WebhookPayload) -> RelayOutcome:
        """Forward one notification to its subscribers; raises ``RelayDeliveryFailed``."""
        key = notification_key(payload)
        delivered: list[str] = []
        duplicates: list[str] = []
        failures: list[str] = []
        for subscriber in self.subscribers:
            if payload.receiver not in subscriber.receivers:
                continue
            channels: list[str] = []
            if subscriber.mqtt_topic is not None:
                channels.append(f"mqtt:{subscriber.mqtt_topic}")
            channels += [f"apprise:{index}" for index in range(len(subscriber.apprise))]
            for channel in channels:
                name = f"{subscriber.name}/{channel}"
                channel_key = f"{key}:{name}"
                if await asyncio.to_thread(self._seen.seen, channel_key, self._window_s):
                    duplicates.append(name)
                    continue
                try:
                    await self._deliver(subscriber, channel, payload)
                except Exception as exc:  # one channel down must not stop the others
                    failures.append(f"{name}: {exc}")
                    continue
                await asyncio.to_thread(self._seen.remember, channel_key, self._window_s)
                delivered.append(name)
        self.delivered += len(delivered)
        self.duplicates += len(duplicates)
        self.failed += len(failures)
        log.info(
            "relay_notification",
            extra={
                "receiver": payload.receiver,
                "delivered": len(delivered),
                "duplicates": len(duplicates),
                "failed": len(failures),
            },
        )
        if failures:
            log.warning("relay_delivery_failed", extra={"failures": failures})
            raise RelayDeliveryFailed(failures)
        return RelayOutcome(tuple(delivered), tuple(duplicates))

    async def _deliver(self, subscriber: Subscriber, channel: str, payload: WebhookPayload) -> None:
        if channel.startswith("mqtt:"):
            if self._publish is None:
                raise RuntimeError("no MQTT connection")
            async with asyncio.timeout(self._timeout_s):
                await self._publish(
                    channel.removeprefix("mqtt:"), orjson.dumps(_mqtt_document(payload))
                )
            return
        url = subscriber.apprise[int(channel.removeprefix("apprise:"))]
        sender = apprise.Apprise()
        sender.add(url)
        title, body = group_message(payload)
        async with asyncio.timeout(self._timeout_s):
            ok = await sender.async_notify(body=body, title=title)
        if not ok:
            raise RuntimeError("apprise could not deliver")
