"""The rule engine as a service: an async context manager that implements ``ObservationSink``.

```python
async with AlertEngine(config, rules, registry, state_path, listeners=[publisher]) as engine:
    await engine.submit(observations)       # from the gateway; waits when the queue is full
    engine.active_alerts()                  # for the live console
```

Inside, one ``TaskGroup`` runs the worker, which evaluates queued batches; the ticker, which
wakes every ``tick_interval_s`` for what time alone changes (absence, ``for:``, windows, the
sun), to pick up operators' acknowledgements and edited rule files
(silences are Alertmanager's), and to re-announce
every firing alert each ``reannounce_interval_s``; and one task per listener (``announce.py``).
Each batch of transitions is persisted before any of it is announced; announcing only queues
the change for each listener, so no listener holds the engine's lock.

Long because: the service's whole life (start, restore, the worker and ticker, reloads,
acknowledgements, announcing and stop) is one object's, and splitting it would scatter its lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from alerts.announce import ListenerChannel, ListenerStats
from alerts.errors import AlertsError, RuleFileInvalid
from alerts.evaluate import Evaluator, Transition
from alerts.interface import Observation
from alerts.model import Alert, AlertChange, AlertState, ChangeKind, Notifier
from alerts.rules import RuleSet, load_rules, rule_files
from alerts.state import AlertStore
from devices import Registry

__all__ = ["AlertEngine", "AlertsConfig", "EngineClosed"]

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


class EngineClosed(AlertsError):
    """The engine was used outside its ``async with`` block."""


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """What the engine needs to know; defaults live in ``smartcity.settings``."""

    queue_max: int
    tick_interval_s: float
    max_clock_skew_s: float
    notify_timeout_s: float
    shutdown_timeout_s: float
    reannounce_interval_s: float  # 0: only on demand (and to a listener that missed changes)
    listener_queue_max: int
    retry_min_s: float  # pause before a failed listener is tried again, doubling ...
    retry_max_s: float  # ... up to this
    rules_path: Path | None
    watch_rules: bool
    event_time: bool  # follow the devices' clocks (simulated or replayed time), not the wall


class AlertEngine:
    """Evaluates rules on observations; persists alert state; hands every change to listeners."""

    def __init__(
        self,
        config: AlertsConfig,
        rules: RuleSet,
        registry: Registry,
        state_path: str | Path,
        *,
        listeners: Sequence[Notifier] = (),
        clock: Callable[[], datetime] = utc_now,
        run_ticker: bool = True,
    ) -> None:
        self.config = config
        self.rules = rules
        self.last_reload_error: RuleFileInvalid | None = None
        self.evaluated = 0
        self._registry = registry
        self._state_path = Path(state_path)
        self._listeners = tuple(listeners)
        self._channels: tuple[ListenerChannel, ...] = ()
        self._announced: dict[str, AlertChange] = {}  # the latest change of each firing alert
        self._last_reannounce = clock()
        self._clock = clock
        self._run_ticker = run_ticker
        self._queue: asyncio.Queue[list[Observation]] = asyncio.Queue(maxsize=config.queue_max)
        self._lock = asyncio.Lock()
        self._store: AlertStore | None = None
        self._evaluator: Evaluator | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._accepting = False
        self._next_event_tick: datetime | None = None
        self._rules_stamp = self._stamp()

    # --- life --------------------------------------------------------------------------------

    async def __aenter__(self) -> AlertEngine:
        if self._stack is not None:
            raise EngineClosed("the engine is already running; it cannot be entered twice")
        now = self._clock()
        store = await asyncio.to_thread(AlertStore, self._state_path)
        # absence counts from this start, not the first one: after a restart every device
        # gets its full grace period again (and restored absence alerts stay until it speaks)
        started_at = None if self.config.event_time else now
        restored = await asyncio.to_thread(store.alerts)
        self._store = store
        self._evaluator = Evaluator(
            self.rules,
            self._registry,
            max_clock_skew=(
                None if self.config.event_time else timedelta(seconds=self.config.max_clock_skew_s)
            ),
            started_at=started_at,
            alerts=restored,
        )
        self._announced = {
            alert.fingerprint: _standing_change(alert)
            for alert in restored
            if alert.state is AlertState.FIRING
        }
        self._last_reannounce = now
        self._channels = tuple(
            ListenerChannel(
                listener,
                self._announced.values,
                queue_max=self.config.listener_queue_max,
                timeout_s=self.config.notify_timeout_s,
                retry_min_s=self.config.retry_min_s,
                retry_max_s=self.config.retry_max_s,
            )
            for listener in self._listeners
        )
        log.info(
            "alert_engine_started", extra={"rules": len(self.rules), "restored": len(restored)}
        )
        stack = contextlib.AsyncExitStack()
        try:
            group = await stack.enter_async_context(asyncio.TaskGroup())
            self._tasks = [group.create_task(self._work(), name="alerts-worker")]
            if self._run_ticker:
                self._tasks.append(group.create_task(self._tick_forever(), name="alerts-ticker"))
            for number, channel in enumerate(self._channels):
                name = f"alerts-listener-{number}-{channel.name}"
                self._tasks.append(group.create_task(channel.run(), name=name))
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self._accepting = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack = self._stack
        self._accepting = False
        try:
            if exc is None:
                try:
                    async with asyncio.timeout(self.config.shutdown_timeout_s):
                        await self.flush()
                except TimeoutError:
                    log.error(
                        "alert_engine_shutdown_unfinished",
                        extra={
                            "queued": self._queue.qsize(),
                            "listeners": [vars_of(c.stats()) for c in self._channels],
                        },
                    )
            for task in self._tasks:
                task.cancel()
            if stack is not None:
                try:
                    await stack.aclose()
                except asyncio.CancelledError:
                    # our own tasks' cancellation ends here; the caller's must go on
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise
        finally:
            self._stack = None
            if self._store is not None:
                await asyncio.to_thread(self._store.close)
                self._store = None
            log.info("alert_engine_stopped")

    # --- the gateway's side ------------------------------------------------------------------

    async def submit(self, observations: Sequence[Observation]) -> None:
        """Queue a batch for evaluation; waits while the queue is full (back-pressure)."""
        if not self._accepting:
            raise EngineClosed("submit() outside 'async with AlertEngine(...)'")
        if observations:
            await self._queue.put(list(observations))

    async def flush(self) -> None:
        """Wait until every batch submitted so far is evaluated, persisted and announced (each
        change tried once with every listener; one that failed is owed it)."""
        await self._queue.join()
        for channel in self._channels:
            await channel.settled()

    async def reannounce(self) -> None:
        """Tell every listener the current state of every firing alert again (``reannounced``)."""
        self._running()
        self._last_reannounce = self._clock()
        for channel in self._channels:
            channel.reannounce()
        log.info("alerts_reannounced", extra={"firing": len(self._announced)})

    def listener_stats(self) -> list[ListenerStats]:
        """Per listener: delivered, failed attempts, dropped (queue full), queued, owed."""
        return [channel.stats() for channel in self._channels]

    def active_alerts(self) -> list[Alert]:
        """Alerts pending or firing now, oldest first (for the live console)."""
        return self._evaluator.active() if self._evaluator is not None else []

    # --- operators and time ------------------------------------------------------------------

    async def tick(self) -> None:
        """One timer pass at the clock's now: acknowledgements, rules, time."""
        evaluator, store = self._running()
        now = self._now()
        acks = await asyncio.to_thread(store.pending_acks)
        async with self._lock:
            transitions: list[Transition] = []
            for ack in acks:
                found = evaluator.acknowledge(ack.fingerprint, ack.acknowledged_by, ack.at)
                if found is not None:
                    transitions.append(found)
            transitions.extend(evaluator.tick(now))
            await self._apply(transitions, now)
        if acks:
            await asyncio.to_thread(store.mark_acks_applied, [ack.id for ack in acks])
        interval_s = self.config.reannounce_interval_s
        if interval_s > 0 and (self._clock() - self._last_reannounce).total_seconds() >= interval_s:
            await self.reannounce()
        await self._maybe_reload()

    async def acknowledge(self, fp: str, by: str) -> bool:
        """Acknowledge a firing alert; whether there was one to acknowledge."""
        evaluator, _ = self._running()
        async with self._lock:
            now = self._now()
            found = evaluator.acknowledge(fp, by, now)
            if found is None:
                return False
            await self._apply([found], now)
        return True

    async def reload(self, rules: RuleSet) -> None:
        """Swap in a new, already validated rule set; alerts of removed rules resolve."""
        evaluator, _ = self._running()
        async with self._lock:
            evaluator.set_rules(rules)
            self.rules = rules
            now = self._now()
            await self._apply(evaluator.tick(now), now)
        log.info("rules_reloaded", extra={"rules": len(rules), "sources": list(rules.sources)})

    async def reload_from(self, path: str | Path) -> bool:
        """Load rules from ``path`` and swap them in; a bad file keeps the running rules.

        Returns whether the new rules were taken; when not, ``last_reload_error`` says why.
        """
        try:
            rules = await asyncio.to_thread(load_rules, path)
        except RuleFileInvalid as exc:
            self.last_reload_error = exc
            log.warning("rules_reload_refused", extra={"path": str(path), "reason": str(exc)})
            return False
        self.last_reload_error = None
        await self.reload(rules)
        return True

    # --- inside ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        if self.config.event_time and self._evaluator is not None:
            return self._evaluator.watermark or self._clock()
        return self._clock()

    def _running(self) -> tuple[Evaluator, AlertStore]:
        if self._evaluator is None or self._store is None:
            raise EngineClosed("the engine is not running; use 'async with AlertEngine(...)'")
        return self._evaluator, self._store

    async def _work(self) -> None:
        evaluator, _ = self._running()
        while True:
            batch = await self._queue.get()
            try:
                async with self._lock:
                    transitions: list[Transition] = []
                    for observation in batch:
                        try:
                            transitions.extend(evaluator.observe(observation))
                        except Exception:  # one odd reading must not stop the engine
                            log.exception(
                                "observation_not_evaluated",
                                extra={"device": observation.message.topic.device_id},
                            )
                        if self.config.event_time:
                            transitions.extend(self._event_time_tick(evaluator))
                    self.evaluated += len(batch)
                    await self._apply(transitions, self._now())
            finally:
                self._queue.task_done()

    def _event_time_tick(self, evaluator: Evaluator) -> list[Transition]:
        """In event time the timers run as the watermark passes each tick interval, so a
        sped-up simulation gets the same ``for:`` and absence timing as the real city."""
        watermark = evaluator.watermark
        if watermark is None:
            return []
        if self._next_event_tick is None:
            self._next_event_tick = watermark
        if watermark < self._next_event_tick:
            return []
        self._next_event_tick = watermark + timedelta(seconds=self.config.tick_interval_s)
        return evaluator.tick(watermark)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_interval_s)
            try:
                await self.tick()
            except AlertsError as exc:
                log.error("alert_tick_failed", extra={"reason": str(exc)})

    async def _apply(self, transitions: list[Transition], now: datetime) -> None:
        if not transitions:
            return
        _, store = self._running()
        await asyncio.to_thread(store.record, transitions)
        for transition in transitions:
            if transition.change is None:
                standing = self._announced.get(transition.alert.fingerprint)
                if standing is not None and transition.alert.state is AlertState.FIRING:
                    # held by a closed gate, or let go again: not news, but the next
                    # re-announcement carries the alert as it now stands
                    self._announced[transition.alert.fingerprint] = replace(
                        standing, alert=transition.alert
                    )
                continue
            alert = transition.alert
            change = AlertChange(alert, transition.change, now)
            log.info(
                "alert_changed",
                extra={
                    "rule": alert.rule,
                    "fingerprint": alert.fingerprint,
                    "change": change.change,
                },
            )
            if change.change is ChangeKind.RESOLVED:
                self._announced.pop(alert.fingerprint, None)
            else:
                self._announced[alert.fingerprint] = change
            for channel in self._channels:
                channel.offer(change)

    def _stamp(self) -> tuple[tuple[str, float], ...]:
        path = self.config.rules_path
        if path is None:
            return ()
        try:
            return tuple((str(file), file.stat().st_mtime) for file in rule_files(path))
        except OSError:
            return ()

    async def _maybe_reload(self) -> None:
        if self.config.rules_path is None or not self.config.watch_rules:
            return
        stamp = await asyncio.to_thread(self._stamp)
        if stamp == self._rules_stamp:
            return
        self._rules_stamp = stamp
        await self.reload_from(self.config.rules_path)


def _standing_change(alert: Alert) -> AlertChange:
    """The latest change of a firing alert restored from the state: fired, or acknowledged."""
    if alert.acknowledged_by is not None and alert.acknowledged_at is not None:
        return AlertChange(alert, ChangeKind.ACKNOWLEDGED, alert.acknowledged_at)
    return AlertChange(alert, ChangeKind.FIRING, alert.fired_at or alert.active_since)


def vars_of(stats: ListenerStats) -> dict[str, object]:
    """A listener's counters as a plain dict, for a log line."""
    return {name: getattr(stats, name) for name in stats.__slots__}
