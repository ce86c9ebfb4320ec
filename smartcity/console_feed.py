"""What the live console shows, gathered from the running parts of ``smartcity up``: the
gateway's figures and presence, the store's spool, the engine's alerts, the simulated clock and
the notifications the demo's receivers recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import alerts
import simulators
from devices import Registry
from gateway import Gateway
from ingest import DurableStore
from smartcity import console as live
from smartcity.assembly import notifications
from smartcity.settings import Settings

__all__ = ["ConsoleFeed"]


@dataclass
class ConsoleFeed:
    """One ``snapshot()`` a second for the console, from the parts it was given."""

    settings: Settings
    registry: Registry
    gateway: Gateway
    store: DurableStore
    engine: alerts.AlertEngine | None
    fleet: simulators.SimulationStats
    endpoints: dict[str, str]
    demo: bool = False
    speed: float = 1.0
    page: str = ""  # the operators' page and how to log in, once the API serves it
    _kinds: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._kinds = {device_id: str(record.kind) for device_id, record in self.registry.items()}

    def snapshot(self) -> live.Snapshot:
        stats = self.gateway.stats()
        active = self.engine.active_alerts() if self.engine is not None else []
        # alerts are timed by the devices' clocks in the demo: their age is simulated time
        now = self.fleet.sim_time or datetime.now(UTC)
        return live.Snapshot(
            devices_total=len(self.registry),
            devices_online=stats.devices_online,
            received=stats.received,
            stored=stats.stored,
            rejected=stats.rejected,
            spool_bytes=self.store.stats().spool_bytes,
            published=self.fleet.messages_published,
            alerts=tuple(
                live.ActiveAlert(
                    severity=str(alert.severity),
                    rule=alert.rule,
                    subject=alert.labels.get("device")
                    or alert.labels.get("cabinet")
                    or alert.labels.get("section")
                    or alert.labels.get("junction")
                    or alert.district,
                    state=alert.state.value,
                    summary=alert.summary,
                    age_s=(now - alert.starts_at).total_seconds(),
                )
                for alert in active
            ),
            endpoints=self.endpoints,
            online_by_kind=self._online_by_kind(),
            notifications=self._notifications() if self.demo else (),
            clock=self._clock() if self.demo else "",
            page=self.page,
        )

    def _online_by_kind(self) -> dict[str, tuple[int, int]]:
        counts = {kind: [0, 0] for kind in self._kinds.values()}
        for kind in self._kinds.values():
            counts[kind][1] += 1
        for device_id, state in list(self.gateway.presence.devices.items()):
            known = self._kinds.get(device_id)
            if known is not None and state.online:
                counts[known][0] += 1
        return {kind: (online, total) for kind, (online, total) in counts.items()}

    def _notifications(self) -> tuple[live.SentNotification, ...]:
        return tuple(
            live.SentNotification(item.received_at, item.channel, item.subject)
            for item in notifications(self.settings, live.NOTIFICATIONS_SHOWN)
        )

    def _clock(self) -> str:
        sim_time = self.fleet.sim_time
        if sim_time is None:
            return "starting"
        local = sim_time.astimezone(ZoneInfo(self.registry.city.timezone))
        caught_up = abs(datetime.now(UTC) - sim_time) < timedelta(minutes=2)
        return f"{local:%a %d %b %H:%M}" + (" (live)" if caught_up else f" ({self.speed:g}x)")
