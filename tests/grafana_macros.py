"""Grafana's macro expansion for InfluxQL queries, as its documentation describes it, so a
test can run a panel's query the way Grafana would send it.

- ``$timeFilter`` → ``time >= {from}ms and time <= {to}ms`` (the panel's range, in epoch ms);
- ``$__interval`` → the range divided by the panel's max data points, no finer than the
  datasource's minimum interval (10s), rounded to Grafana's steps (``rangeutil.roundInterval``)
  and written as Grafana writes it (``30s``, ``5m``, ``1h``, ``1d``);
- ``$var``, ``${var}``, ``[[var]]``: a multi-value variable inside a regex becomes
  ``(a|b)`` of regex-escaped values; "All" becomes the variable's ``allValue`` (``.*``);
- a panel's relative time (``timeFrom: 7d``) replaces the dashboard's range.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ALL", "TimeRange", "expand", "interval_text", "panel_range", "round_interval_ms"]

ALL = "$__all"
MIN_INTERVAL_MS = 10_000
_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# rangeutil.roundInterval: (upper bound of the raw interval in ms, the step it rounds to)
_STEPS_MS = (
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1_500, 1_000),
    (3_500, 2_000),
    (7_500, 5_000),
    (12_500, 10_000),
    (17_500, 15_000),
    (25_000, 20_000),
    (45_000, 30_000),
    (90_000, 60_000),
    (210_000, 120_000),
    (450_000, 300_000),
    (750_000, 600_000),
    (1_050_000, 900_000),
    (1_500_000, 1_200_000),
    (2_700_000, 1_800_000),
    (5_400_000, 3_600_000),
    (9_000_000, 7_200_000),
    (16_200_000, 10_800_000),
    (24_300_000, 21_600_000),
    (64_800_000, 43_200_000),
    (129_600_000, 86_400_000),
    (864_000_000, 604_800_000),
)


@dataclass(frozen=True)
class TimeRange:
    """A panel's time range in epoch milliseconds."""

    start_ms: int
    end_ms: int


def round_interval_ms(raw_ms: float) -> int:
    """Grafana's rounding of a computed interval to a readable step."""
    if raw_ms <= 10:
        return 1
    for bound, step in _STEPS_MS:
        if raw_ms <= bound:
            return step
    return 31_536_000_000  # a year


def interval_text(interval_ms: int) -> str:
    """An interval as Grafana writes ``$__interval``: the largest unit that divides it."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS_MS[unit]
        if interval_ms % size == 0:
            return f"{interval_ms // size}{unit}"
    return f"{interval_ms}ms"


def panel_range(dashboard: TimeRange, time_from: str | None) -> TimeRange:
    """A panel's range: the dashboard's, or ``now - timeFrom .. now`` with a relative time."""
    if time_from is None:
        return dashboard
    match = re.fullmatch(r"(\d+)([smhdw])", time_from)
    assert match, f"unsupported relative time {time_from!r}"
    span = int(match.group(1)) * _UNITS_MS[match.group(2)]
    return TimeRange(dashboard.end_ms - span, dashboard.end_ms)


def expand(
    query: str,
    window: TimeRange,
    *,
    max_data_points: int = 1_000,
    variables: Mapping[str, Sequence[str] | str] | None = None,
    all_values: Mapping[str, str] | None = None,
) -> str:
    """The query as Grafana sends it to InfluxDB."""
    raw_ms = (window.end_ms - window.start_ms) / max_data_points
    interval = interval_text(round_interval_ms(max(raw_ms, MIN_INTERVAL_MS)))
    text = query.replace(
        "$timeFilter", f"time >= {window.start_ms}ms and time <= {window.end_ms}ms"
    )
    text = text.replace("${__interval}", interval).replace("$__interval", interval)
    for name, value in (variables or {}).items():
        if value == ALL:
            replacement = (all_values or {}).get(name, ".*")
        elif isinstance(value, str):
            replacement = re.escape(value)
        else:
            escaped = [re.escape(item) for item in value]
            replacement = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
        pattern = rf"\$\{{{name}\}}|\[\[{name}\]\]|\${name}\b"
        text = re.sub(pattern, lambda _, value=replacement: value, text)
    left = re.search(r"\$\{?[A-Za-z_]\w*|\[\[\w+\]\]", text)
    assert left is None, f"macro {left.group(0) if left else ''} left in {text!r}"
    return text
