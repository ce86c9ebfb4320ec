"""The operators' alert operations, in one implementation for the CLI and the HTTP API.

```python
api = AlertmanagerAPI(urls, timeout_s=5)
ops = AlertOperations(state_path, api, ack_silence_max=timedelta(days=7))

await ops.active() -> list[AlertView]
    # pending and firing alerts from the engine's store, each with what Alertmanager does with
    # it (AlertStatus: active / suppressed, silenced_by, inhibited_by; None when unknown or
    # when no Alertmanager is given: AlertOperations(state_path, None, ...) lists and history)
await ops.history(*, since=None, until=None, district=None, kind=None, severity=None,
                  limit=1000) -> list[HistoryEntry]                   # newest first
await ops.acknowledge(fingerprint, by, comment) -> Acknowledgement
    # fingerprint may be a unique prefix of a firing alert's; AlertNotFound otherwise.
    # Silences exactly that alert in Alertmanager (every label matched), which stops the
    # repeats, and records who is on it in the engine (it announces "acknowledged" on its next
    # tick). The silence is expired by AckSilenceExpirer when the alert resolves.
await ops.silence(matchers, *, starts_at, ends_at, created_by, comment) -> str  # silence id
await ops.silences(*, include_expired=False) -> list[Silence]
await ops.unsilence(silence_id) -> None                            # SilenceNotFound if none
```

Silences live only in Alertmanager (API v2); the engine keeps alerts, history and who
acknowledged. Where no engine's store is at hand (the API on its own beside several gateway
workers), ``AlertOperations(None, api, ack_silence_max=..., source=reader)`` lists and acknowledges
through ``reader`` (an ``AlertSource``: Alertmanager's alerts, InfluxDB's history); an
acknowledgement then lives in its silence alone (``createdBy`` says who), and no engine announces
it. Errors: ``AlertNotFound``, ``SilenceNotFound``, ``AlertmanagerUnavailable``,
``AlertmanagerRefused`` (a bad matcher or time), ``AlertStateUnusable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

from alerts.alertmanager import alertmanager_labels
from alerts.errors import AlertmanagerUnavailable, AlertNotFound, SilenceNotFound
from alerts.model import Alert, AlertChange, AlertState, ChangeKind
from alerts.silences import AlertmanagerAPI, AlertStatus, Matcher, Silence
from alerts.state import AlertStore, HistoryEntry

__all__ = [
    "AckSilenceExpirer",
    "Acknowledgement",
    "AlertOperations",
    "AlertSource",
    "AlertView",
    "ack_comment",
    "acknowledged_fingerprint",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_ACK_MARK = re.compile(r"\[acknowledged alert ([0-9a-f]{16})\]$")


def ack_comment(fingerprint: str, comment: str) -> str:
    """The comment of an acknowledgement's silence: the operator's words, then a mark that
    ties the silence to its alert (so it can be expired when the alert resolves)."""
    return f"{comment} [acknowledged alert {fingerprint}]".lstrip()


def acknowledged_fingerprint(silence: Silence) -> str | None:
    """The alert an acknowledgement's silence belongs to, or None for an ordinary silence."""
    found = _ACK_MARK.search(silence.comment)
    return found.group(1) if found else None


class AlertSource(Protocol):
    """Alerts and their history from elsewhere than an engine's store (blocking, run in a
    thread): what ``AlertStore`` answers, for the operations of an API on its own."""

    def alerts(self, *, include_resolved: bool = False) -> list[Alert]:
        """Alerts active now, oldest first."""
        ...

    def changes(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        district: str | None = None,
        kind: str | None = None,
        severity: str | None = None,
        limit: int = 1000,
    ) -> list[HistoryEntry]:
        """Announced changes, newest first."""
        ...


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as operators see it: the engine's alert and Alertmanager's verdict on it."""

    alert: Alert
    status: AlertStatus | None

    @property
    def silenced(self) -> bool:
        """Whether a silence in Alertmanager mutes it."""
        return self.status is not None and bool(self.status.silenced_by)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """Who took an alert, when, why, and the silence that stops its repeats."""

    fingerprint: str
    rule: str
    by: str
    comment: str
    at: datetime
    silence_id: str


class AlertOperations:
    """List, acknowledge and silence alerts: the engine's store plus Alertmanager."""

    def __init__(
        self,
        state_path: str | Path | None,
        alertmanager: AlertmanagerAPI | None,
        *,
        ack_silence_max: timedelta,
        source: AlertSource | None = None,
    ) -> None:
        if (state_path is None) == (source is None):
            raise ValueError("give either the engine's state path or another alert source")
        self.state_path = Path(state_path) if state_path is not None else None
        self._source = source
        self._alertmanager = alertmanager
        self.ack_silence_max = ack_silence_max

    async def _with_store(self, work: Callable[[AlertSource], _T]) -> _T:
        def run() -> _T:
            if self._source is not None:
                return work(self._source)
            assert self.state_path is not None
            with AlertStore(self.state_path) as store:
                return work(store)

        return await asyncio.to_thread(run)

    async def active(self) -> list[AlertView]:
        """Pending and firing alerts, oldest first, with Alertmanager's status of each."""
        alerts = await self._with_store(lambda store: store.alerts())
        states: dict[frozenset[tuple[str, str]], AlertStatus] = {}
        try:
            if self._alertmanager is not None:
                states = await self._alertmanager.alert_states()
        except AlertmanagerUnavailable as exc:
            log.warning("alertmanager_status_unknown", extra={"reason": str(exc)})
        return [
            AlertView(alert, states.get(frozenset(alertmanager_labels(alert).items())))
            for alert in alerts
        ]

    @property
    def alertmanager(self) -> AlertmanagerAPI:
        """The Alertmanager (cluster) silences live in; ``AlertmanagerUnavailable`` if none."""
        if self._alertmanager is None:
            raise AlertmanagerUnavailable((), "no Alertmanager is configured")
        return self._alertmanager

    async def history(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        district: str | None = None,
        kind: str | None = None,
        severity: str | None = None,
        limit: int = 1000,
    ) -> list[HistoryEntry]:
        """Announced changes (firing, resolved, acknowledged), newest first."""
        return await self._with_store(
            lambda store: store.changes(
                since=since,
                until=until,
                district=district,
                kind=kind,
                severity=severity,
                limit=limit,
            )
        )

    async def acknowledge(self, fingerprint: str, by: str, comment: str) -> Acknowledgement:
        """Someone is on it: silence exactly this alert until it resolves, record who."""
        alerts = await self._with_store(lambda store: store.alerts())
        matches = [
            alert
            for alert in alerts
            if alert.fingerprint.startswith(fingerprint) and alert.state is AlertState.FIRING
        ]
        if len(matches) != 1:
            raise AlertNotFound(
                fingerprint, "no firing alert" if not matches else f"{len(matches)} firing alerts"
            )
        alert = matches[0]
        now = datetime.now(UTC)
        held = [
            silence
            for silence in await self.alertmanager.silences()
            if silence.state != "expired" and acknowledged_fingerprint(silence) == alert.fingerprint
        ]
        if held:  # acknowledged before: its silence already holds the repeats
            silence_id = held[0].id
        else:
            silence_id = await self.alertmanager.create_silence(
                [
                    Matcher(name, value)
                    for name, value in sorted(alertmanager_labels(alert).items())
                ],
                now,
                now + self.ack_silence_max,
                by,
                ack_comment(alert.fingerprint, comment),
            )
        if self.state_path is not None:  # the engine announces it; elsewhere the silence says
            path = self.state_path

            def record() -> None:
                with AlertStore(path) as store:
                    store.add_ack(alert.fingerprint, by, comment, now)

            await asyncio.to_thread(record)
        log.info(
            "alert_acknowledged",
            extra={"fingerprint": alert.fingerprint, "by": by, "silence": silence_id},
        )
        return Acknowledgement(alert.fingerprint, alert.rule, by, comment, now, silence_id)

    async def silence(
        self,
        matchers: Sequence[Matcher],
        *,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """Silence every alert the matchers select, from ``starts_at`` to ``ends_at``."""
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        if ends_at <= starts_at:
            raise ValueError("a silence must end after it starts")
        return await self.alertmanager.create_silence(
            matchers, starts_at, ends_at, created_by, comment
        )

    async def silences(self, *, include_expired: bool = False) -> list[Silence]:
        """Silences in force (active or pending), or every one Alertmanager still keeps."""
        found = await self.alertmanager.silences()
        return found if include_expired else [s for s in found if s.state != "expired"]

    async def unsilence(self, silence_id: str) -> None:
        """End a silence now."""
        await self.alertmanager.expire_silence(silence_id)


class AckSilenceExpirer:
    """A ``Notifier`` that expires acknowledgement silences once their alert is no longer
    active: on each resolved change, and every ``interval_s`` (so a resolution seen while
    Alertmanager was down, or before a restart, is caught up)."""

    def __init__(
        self,
        alertmanager: AlertmanagerAPI,
        active_fingerprints: Callable[[], Iterable[str]],
        *,
        interval_s: float,
    ) -> None:
        self._alertmanager = alertmanager
        self._active = active_fingerprints
        self._interval_s = interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.expired = 0

    async def notify(self, change: AlertChange) -> None:
        """A resolved alert's acknowledgement silence is due to go."""
        if change.change is ChangeKind.RESOLVED:
            self._wake.set()

    async def __aenter__(self) -> AckSilenceExpirer:
        self._task = asyncio.create_task(self._run(), name="ack-silence-expirer")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def expire_moot(self) -> int:
        """Expire acknowledgement silences whose alert is not active; how many."""
        active = set(self._active())
        count = 0
        for silence in await self._alertmanager.silences():
            fingerprint = acknowledged_fingerprint(silence)
            if silence.state == "expired" or fingerprint is None or fingerprint in active:
                continue
            try:
                await self._alertmanager.expire_silence(silence.id)
            except SilenceNotFound:
                continue  # someone else ended it meanwhile
            count += 1
            log.info(
                "ack_silence_expired", extra={"silence": silence.id, "fingerprint": fingerprint}
            )
        self.expired += count
        return count

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.expire_moot()
            except AlertmanagerUnavailable as exc:
                log.warning("ack_silences_not_expired", extra={"reason": str(exc)})
            except Exception:  # the loop must go on: it is how acknowledgements end
                log.exception("ack_silences_not_expired")
