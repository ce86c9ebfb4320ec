"""The engine as an alert source for Prometheus Alertmanager (API v2), the way Prometheus does it.

```python
async with AlertmanagerNotifier(config) as notifier:   # a Notifier: give it to the engine
    notifier.track(engine.active_alerts())             # after a restart: tell them again
    await notifier.notify(change)                      # firing, resolved, acknowledged
    notifier.stats()                                   # sent, errored, dropped per Alertmanager
```

Every Alertmanager of ``config.urls`` (a cluster's members do not share alerts, only silences
and the notification log) has its own bounded queue of alerts waiting to be sent, keyed by
fingerprint so that a later change of one alert replaces the earlier one. A sender per
Alertmanager posts them in batches to ``POST /api/v2/alerts``; when it fails, the batch stays
queued and is retried with backoff, so an Alertmanager that is down delays a change and loses
none. Firing alerts are re-sent every ``resend_interval_s`` with ``endsAt`` four intervals ahead
(Prometheus' rule): a restarted Alertmanager or a new member learns them again, and if the
platform dies for good, Alertmanager resolves them by itself. A resolved alert carries its
``endsAt``. A full queue drops its oldest alert, counted; the re-send brings back what is firing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import httpx

from alerts.model import Alert, AlertChange, AlertState, ChangeKind

__all__ = [
    "AlertmanagerConfig",
    "AlertmanagerNotifier",
    "TargetStats",
    "alertmanager_labels",
    "postable_alert",
]

log = logging.getLogger(__name__)

# Prometheus' rules/alerting.go: a firing alert is valid for four resend delays
RESEND_VALIDITY = 4
_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AlertmanagerConfig:
    """Where the Alertmanagers are and how to talk to them; defaults live in settings."""

    urls: tuple[str, ...]
    queue_max: int
    batch_max: int
    resend_interval_s: float
    timeout_s: float
    retry_initial_s: float
    retry_max_s: float
    shutdown_timeout_s: float


@dataclass(frozen=True, slots=True)
class TargetStats:
    """One Alertmanager's counters: alerts sent, sends that failed, alerts dropped."""

    url: str
    sent: int
    errored: int
    dropped: int
    queued: int
    up: bool


def alertmanager_labels(alert: Alert) -> dict[str, str]:
    """The labels an alert carries in Alertmanager: ``alertname`` (the rule), ``severity``,
    ``kind``, ``district``, ``device_id`` for a device's alert, the group labels (cabinet,
    river, section, junction) and the rule's own labels (``team``)."""
    labels: dict[str, str] = {}
    for name, value in alert.labels.items():
        key = "device_id" if name == "device" else _LABEL_NAME.sub("_", name)
        labels[key] = value
    labels["alertname"] = alert.rule
    labels["severity"] = alert.severity
    labels["kind"] = alert.kind.value
    labels["district"] = alert.district
    return labels


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def postable_alert(alert: Alert, *, now: datetime, valid_for: timedelta) -> dict[str, Any]:
    """The API v2 body of one alert: resolved ones end when they resolved, firing ones are
    valid for ``valid_for`` from ``now`` (renewed by each re-send)."""
    # the fingerprint lets a reader of Alertmanager (the standalone API) name the engine's alert
    annotations = {
        "summary": alert.summary,
        "runbook_url": alert.runbook,
        "fingerprint": alert.fingerprint,
    }
    if alert.value is not None:
        annotations["value"] = f"{alert.value:g}"
    if alert.acknowledged_by:
        annotations["acknowledged_by"] = alert.acknowledged_by
    if alert.held and alert.state is AlertState.FIRING:
        annotations["held"] = alert.held
    if alert.resolution and alert.state is AlertState.RESOLVED:
        annotations["resolution"] = alert.resolution
    ends_at = alert.resolved_at if alert.state is AlertState.RESOLVED else None
    return {
        "labels": alertmanager_labels(alert),
        "annotations": annotations,
        "startsAt": _rfc3339(alert.starts_at),
        "endsAt": _rfc3339(ends_at or now + valid_for),
    }


@dataclass
class _Target:
    """One Alertmanager: what waits to be sent to it, and its counters."""

    url: str
    queue_max: int
    pending: OrderedDict[str, Alert] = field(default_factory=OrderedDict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0
    errored: int = 0
    dropped: int = 0
    up: bool = True

    def put(self, alert: Alert) -> None:
        fp = alert.fingerprint
        if fp in self.pending:
            self.pending[fp] = alert  # the latest state of an alert is what counts
        else:
            if len(self.pending) >= self.queue_max:
                oldest, _ = self.pending.popitem(last=False)
                self.dropped += 1
                log.warning("alertmanager_queue_full", extra={"url": self.url, "dropped": oldest})
            self.pending[fp] = alert
        self.wake.set()


class AlertmanagerNotifier:
    """A ``Notifier`` that sends alert changes to every Alertmanager and re-sends firing ones."""

    def __init__(
        self, config: AlertmanagerConfig, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        if not config.urls:
            raise ValueError("AlertmanagerNotifier needs at least one Alertmanager URL")
        self.config = config
        self._clock = clock
        self._targets = [_Target(url.rstrip("/"), config.queue_max) for url in config.urls]
        self._firing: dict[str, Alert] = {}
        self._http: httpx.AsyncClient | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- life --------------------------------------------------------------------------------

    async def __aenter__(self) -> AlertmanagerNotifier:
        stack = contextlib.AsyncExitStack()
        try:
            self._http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=self.config.timeout_s)
            )
            group = await stack.enter_async_context(asyncio.TaskGroup())
            self._tasks = [
                group.create_task(self._send_forever(target), name=f"alertmanager-{index}")
                for index, target in enumerate(self._targets)
            ]
            self._tasks.append(
                group.create_task(self._resend_forever(), name="alertmanager-resend")
            )
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                try:
                    await self.flush(self.config.shutdown_timeout_s)
                except TimeoutError:
                    log.error(
                        "alertmanager_shutdown_unsent",
                        extra={"queued": {t.url: len(t.pending) for t in self._targets}},
                    )
            for task in self._tasks:
                task.cancel()
            if self._stack is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._stack.aclose()
        finally:
            self._stack = None
            self._http = None

    # --- the engine's side -------------------------------------------------------------------

    async def notify(self, change: AlertChange) -> None:
        """Queue one change for every Alertmanager; never waits on the network."""
        alert = change.alert
        if change.change is ChangeKind.RESOLVED or alert.state is AlertState.RESOLVED:
            self._firing.pop(alert.fingerprint, None)
        elif alert.state is AlertState.FIRING:
            self._firing[alert.fingerprint] = alert
        else:
            return  # pending alerts are the engine's business, as in Prometheus
        for target in self._targets:
            target.put(alert)

    def track(self, alerts: Iterable[Alert]) -> None:
        """Take alerts already firing (restored after a restart) and send them at once."""
        for alert in alerts:
            if alert.state is AlertState.FIRING:
                self._firing[alert.fingerprint] = alert
                for target in self._targets:
                    target.put(alert)

    def firing(self) -> list[Alert]:
        """The alerts this notifier keeps telling Alertmanager about."""
        return list(self._firing.values())

    async def flush(self, timeout_s: float) -> None:
        """Wait until every queued alert has reached its Alertmanager; ``TimeoutError`` if not
        within ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while any(target.pending for target in self._targets):  # noqa: ASYNC110
                await asyncio.sleep(0.02)

    def stats(self) -> list[TargetStats]:
        """Counters of each Alertmanager, in the order of ``config.urls``."""
        return [
            TargetStats(t.url, t.sent, t.errored, t.dropped, len(t.pending), t.up)
            for t in self._targets
        ]

    # --- inside ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock()

    async def _resend_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.resend_interval_s)
            for alert in list(self._firing.values()):
                for target in self._targets:
                    if alert.fingerprint not in target.pending:
                        target.put(alert)

    async def _send_forever(self, target: _Target) -> None:
        delay_s = self.config.retry_initial_s
        while True:
            await target.wake.wait()
            target.wake.clear()
            while target.pending:
                batch = list(target.pending.items())[: self.config.batch_max]
                try:
                    await self._post(target.url, [alert for _, alert in batch])
                except _Refused as exc:
                    # the same body would be refused again: a bug to fix, not an outage to wait
                    for fp, alert in batch:
                        if target.pending.get(fp) is alert:
                            del target.pending[fp]
                    target.dropped += len(batch)
                    log.error(
                        "alertmanager_refused_alerts",
                        extra={"url": target.url, "status": exc.status, "detail": exc.detail},
                    )
                    continue
                except (httpx.HTTPError, _Unavailable) as exc:
                    target.errored += 1
                    if target.up:
                        log.warning(
                            "alertmanager_unreachable",
                            extra={
                                "url": target.url,
                                "reason": repr(exc),
                                "queued": len(target.pending),
                            },
                        )
                    target.up = False
                    await asyncio.sleep(delay_s)
                    delay_s = min(delay_s * 2, self.config.retry_max_s)
                    continue
                for fp, alert in batch:
                    if target.pending.get(fp) is alert:  # not replaced by a newer change meanwhile
                        del target.pending[fp]
                target.sent += len(batch)
                if not target.up:
                    log.info("alertmanager_reachable", extra={"url": target.url})
                target.up = True
                delay_s = self.config.retry_initial_s

    async def _post(self, url: str, alerts: list[Alert]) -> None:
        assert self._http is not None
        now = self._now()
        valid_for = timedelta(seconds=RESEND_VALIDITY * self.config.resend_interval_s)
        body = [postable_alert(alert, now=now, valid_for=valid_for) for alert in alerts]
        response = await self._http.post(f"{url}/api/v2/alerts", json=body)
        if 400 <= response.status_code < 500:
            raise _Refused(response.status_code, response.text[:500])
        if response.status_code >= 300:
            raise _Unavailable(f"answered {response.status_code}")
        log.debug("alertmanager_alerts_sent", extra={"url": url, "alerts": len(body)})


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class _Unavailable(Exception):
    pass
