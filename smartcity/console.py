"""The live console of ``smartcity up``: one screen of what the platform is doing right now.

Fits an 80-column terminal: devices online per kind, messages per second received and stored,
rejected, spool depth, the active alerts with severity and age, the last notifications the
demo's receivers got, where the servers (and the operators' page, when served) are.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

__all__ = [
    "ActiveAlert",
    "Console",
    "SentNotification",
    "Snapshot",
    "format_age",
    "render",
    "run_console",
    "status_line",
]

ALERTS_SHOWN = 5
NOTIFICATIONS_SHOWN = 3
_KIND_NAMES = {
    "streetlight": "lights",
    "water_quality": "water",
    "traffic_signal": "signals",
    "checkpoint": "cameras",
}


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """An alert as the console shows it; ``age_s`` on the devices' clock (simulated time)."""

    severity: str
    rule: str
    subject: str
    state: str
    summary: str
    age_s: float | None = None


@dataclass(frozen=True, slots=True)
class SentNotification:
    """A notification a local receiver got, as the console shows it."""

    received_at: str  # RFC 3339
    channel: str  # webhook | email
    subject: str


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
    online_by_kind: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # online, total
    notifications: tuple[SentNotification, ...] = ()
    clock: str = ""  # the simulated clock, e.g. "Sat 03:12 (60x)"; empty without a demo
    page: str = ""  # the operators' page and how to log in, when the API serves it


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
        f" | {snapshot.published:,} published"
    )


def format_age(seconds: float | None) -> str:
    """``45s``, ``12m``, ``3h05`` - short enough for a narrow column."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3_600:
        return f"{seconds // 60:.0f}m"
    return f"{seconds // 3_600:.0f}h{seconds % 3_600 // 60:02.0f}"


def _devices(snapshot: Snapshot) -> Text:
    line = Text(f"devices {snapshot.devices_online:,}/{snapshot.devices_total:,} online", "bold")
    # a kind all online shows its count; one with devices missing shows online/total
    parts = [
        f"{_KIND_NAMES.get(kind, kind)} {online:,}" + ("" if online == total else f"/{total:,}")
        for kind, (online, total) in sorted(snapshot.online_by_kind.items())
    ]
    if parts:
        line.append(": " + "  ".join(parts))
    return line


def _messages(snapshot: Snapshot, received_per_s: float, stored_per_s: float) -> Text:
    line = Text(f"msg/s {received_per_s:,.0f} received, {stored_per_s:,.0f} stored", "bold")
    line.append(f" | {snapshot.rejected:,} rejected | spool {snapshot.spool_bytes / 1024:,.0f} KiB")
    line.append(f" | {snapshot.stored:,} stored", "dim")
    return line


def _where(endpoints: Mapping[str, str], width: int = 80) -> list[Text]:
    """Where each server is: two to a line when both fit, so the screen fits 30 rows."""
    items = [Text.assemble((f"{name:<12}", "dim"), " ", url) for name, url in endpoints.items()]
    lines: list[Text] = []
    for item in items:
        if (
            lines
            and len(lines[-1].plain) <= 40
            and cell_len(lines[-1].plain) + 2 + cell_len(item.plain) <= width
        ):
            lines[-1] = Text.assemble(lines[-1], "  ", item)
        else:
            item.no_wrap = True
            item.overflow = "ellipsis"
            lines.append(item)
    return lines


def render(snapshot: Snapshot, received_per_s: float, stored_per_s: float) -> Group:
    """The full screen: devices, messages, where things are, alerts, notifications."""
    title = Text("smartcity", "bold cyan")
    if snapshot.clock:
        title.append(f"  simulated {snapshot.clock}")
    where = _where(snapshot.endpoints)
    alerts = Table(
        title=f"active alerts ({len(snapshot.alerts)})",
        title_justify="left",
        expand=True,
        box=None,
        pad_edge=False,
        header_style="dim",
    )
    alerts.add_column("sev", no_wrap=True, max_width=8)
    alerts.add_column("age", no_wrap=True, justify="right")
    alerts.add_column("rule", no_wrap=True, overflow="ellipsis", max_width=22)
    alerts.add_column("summary", no_wrap=True, overflow="ellipsis", ratio=1)
    colours = {"critical": "red", "major": "dark_orange", "warning": "yellow"}
    shown = sorted(
        snapshot.alerts, key=lambda a: (a.severity != "critical", a.state != "firing", a.rule)
    )
    for alert in shown[:ALERTS_SHOWN]:
        alerts.add_row(
            Text(alert.severity, style=colours.get(alert.severity, "")),
            format_age(alert.age_s),
            alert.rule,
            ("" if alert.state == "firing" else f"({alert.state}) ") + alert.summary,
        )
    if len(snapshot.alerts) > ALERTS_SHOWN:
        alerts.caption = f"and {len(snapshot.alerts) - ALERTS_SHOWN} more: smartcity alerts list"
        alerts.caption_justify = "left"
    sent = Table(
        title="last notifications",
        title_justify="left",
        expand=True,
        box=None,
        pad_edge=False,
        show_header=False,
    )
    sent.add_column("at", no_wrap=True, style="dim")
    sent.add_column("via", no_wrap=True)
    sent.add_column("subject", no_wrap=True, overflow="ellipsis", ratio=1)
    for item in snapshot.notifications[:NOTIFICATIONS_SHOWN]:
        sent.add_row(item.received_at[11:19], item.channel, item.subject)
    if not snapshot.notifications:
        sent.add_row("", "", Text("none yet", "dim"))
    footer = Text("Ctrl-C stops the platform and every process it started.", style="dim")
    # the operators' page and how to log in: wrapped rather than cut, it is to be read
    page = Text.assemble(("page", "bold"), " " * 9, (snapshot.page, "bold"))
    return Group(
        title,
        _devices(snapshot),
        _messages(snapshot, received_per_s, stored_per_s),
        *where,
        *([page] if snapshot.page else []),
        alerts,
        sent,
        footer,
    )


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
