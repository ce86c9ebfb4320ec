"""Local-time spans written ``HH:MM-HH:MM`` (a rule's ``when: {local_time: ...}``, a junction's
``flash_schedule``): parsed once here, for the registry and the rules alike. A span may wrap
midnight (``23:00-05:00``)."""

from __future__ import annotations

import re
from datetime import time

__all__ = ["LOCAL_TIME_SPAN", "in_local_span", "parse_local_span"]

LOCAL_TIME_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_local_span(text: str) -> tuple[time, time]:
    """The (start, end) local times of ``HH:MM-HH:MM``; ``ValueError`` naming the text if not."""
    match = LOCAL_TIME_SPAN.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM")
    hours_a, minutes_a, hours_b, minutes_b = (int(part) for part in match.groups())
    return time(hours_a, minutes_a), time(hours_b, minutes_b)


def in_local_span(moment: time, start: time, end: time) -> bool:
    """Whether a local time falls in [start, end), a span that may wrap midnight."""
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end
