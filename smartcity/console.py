"""The live console of ``smartcity up``: one screen of what the platform is doing right now."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

__all__ = ["ActiveAlert", "Console", "Snapshot", "render", "run_console", "status_line"]


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """An alert as the console shows it."""

    severity: str
    rule: str
    subject: str
    state: str
    summary: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Figures the console shows; counters are totals since start, rates are computed here."""

    devices_total: int = 0
    devices_online: int = 0
    received: int = 0
    stored: int = 0
    rejected: int = 0
    spool_bytes: int = 0
    published: int = 0
    alerts: tuple[ActiveAlert, ...] = ()
    endpoints: dict[str, str] = field(default_factory=dict)


@dataclass
class _Rates:
    """Messages/s and points/s over the last few seconds, from successive snapshots."""

    window_s: float = 5.0
    history: list[tuple[float, int, int]] = field(default_factory=list)

    def update(self, now: float, received: int, stored: int) -> tuple[float, float]:
        self.history.append((now, received, stored))
        while len(self.history) > 2 and now - self.history[0][0] > self.window_s:
            self.history.pop(0)
        first = self.history[0]
        elapsed = now - first[0]
        if elapsed <= 0:
            return 0.0, 0.0
        return (received - first[1]) / elapsed, (stored - first[2]) / elapsed


def status_line(snapshot: Snapshot, received_per_s: float, stored_per_s: float) -> str:
    """The one-line summary, also what a non-terminal log shows every few seconds."""
    return (
        f"devices {snapshot.devices_online}/{snapshot.devices_total} online"
        f" | {received_per_s:,.0f} msg/s in | {stored_per_s:,.0f} points/s stored"
        f" | {snapshot.stored:,} stored | {snapshot.rejected:,} rejected"
        f" | spool {snapshot.spool_bytes / 1024:,.0f} KiB | {len(snapshot.alerts)} alerts"
    )


def render(snapshot: Snapshot, received_per_s: float, stored_per_s: float) -> Group:
    """The full screen: the status line, where things are, and the active alerts."""
    header = Text(status_line(snapshot, received_per_s, stored_per_s), style="bold")
    where = Table.grid(padding=(0, 2))
    for name, url in snapshot.endpoints.items():
        where.add_row(Text(name, style="dim"), url)
    alerts = Table(title="active alerts", expand=True, title_justify="left")
    for column in ("severity", "rule", "device / group", "state", "summary"):
        alerts.add_column(column, overflow="fold")
    colours = {"critical": "red", "major": "dark_orange", "warning": "yellow"}
    for alert in snapshot.alerts[:15]:
        alerts.add_row(
            Text(alert.severity, style=colours.get(alert.severity, "")),
            alert.rule,
            alert.subject,
            alert.state,
            alert.summary,
        )
    if len(snapshot.alerts) > 15:
        alerts.caption = f"and {len(snapshot.alerts) - 15} more"
    footer = Text("Ctrl-C stops the platform and every process it started.", style="dim")
    return Group(header, where, alerts, footer)


async def run_console(
    snapshot: Callable[[], Snapshot], *, interval_s: float = 1.0, console: Console | None = None
) -> None:
    """Refresh the screen until cancelled; off a terminal, print the status line every 5 s."""
    console = console or Console(stderr=False)
    rates = _Rates()
    if not console.is_terminal:
        # where things are, once (the API's URL among them); then the status line
        for name, url in snapshot().endpoints.items():
            print(f"{name:<9} {url}", file=sys.stdout, flush=True)
        while True:
            current = snapshot()
            received, stored = rates.update(time.monotonic(), current.received, current.stored)
            print(status_line(current, received, stored), file=sys.stdout, flush=True)
            await asyncio.sleep(max(interval_s, 5.0))
    with Live(console=console, refresh_per_second=4, screen=False) as live:
        while True:
            current = snapshot()
            received, stored = rates.update(time.monotonic(), current.received, current.stored)
            live.update(render(current, received, stored))
            await asyncio.sleep(interval_s)
