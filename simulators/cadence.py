"""How often each kind of device reports, in the field and in the demo.

The figures, and where they come from:

- **water_quality**, the basic five parameters from probes (temperature, pH, DO, conductivity,
  turbidity): every hour, HJ 915-2017;
- **water_quality**, permanganate index, ammonia and total phosphorus from wet-chemistry
  analysers: every 4 hours (HJ 915-2017 allows 1–4 h; national stations run the analysers at
  00:00, 04:00, ...), in the hourly sample of that hour;
- **streetlight**, a single-lamp controller (NB-IoT / LoRaWAN node): every 15 minutes, and at
  once when the lamp's state changes (a fault, mains lost or back, switched or dimmed). Decided:
  nodes report on a configurable period of minutes to an hour (a LoRaWAN sensor's default is
  often an hour; lamp controllers ship at 5–15 min) and push alarms at once; 15 min keeps a
  city's NB-IoT traffic small and still sees a dark lamp within the quarter hour;
- **traffic_signal**, detector counts and queues per approach: every minute. Decided:
  controllers aggregate detector data per cycle or per minute (SCATS strategic data per cycle;
  GB/T 20999-2017 statistics periods of minutes); a minute holds at least one short cycle;
- **checkpoint**, the camera's health report: every minute. Decided: ANPR cameras keep their
  platform link with a keep-alive of about a minute (GA/T 1400-style registration and
  keep-alive); passes and violations go out as they happen.

A report is due at the device's own phase within its period (``phase_s``), so a fleet's reports
spread over the period instead of arriving together; water stations report on the hour, as
their data loggers do.

``mode`` chooses what the simulator uses:

- ``field``: every kind at its field cadence above;
- ``demo`` (the default): field cadence for the kinds whose default rules hold at it (traffic
  signals, checkpoints), every ``interval_s`` for the others (streetlights, water stations)
  until the rule engine judges sparse samples (issue 13: ``for:`` counted in samples, absence
  windows fitted to the cadence, rates over samples);
- ``uniform``: every device every ``interval_s`` (the simulator before issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from devices import Kind

__all__ = ["FIELD_CADENCE", "Cadence", "CadenceMode", "cadence_for", "report_due"]


class CadenceMode(StrEnum):
    """Which cadence a simulation runs at (see the module's table)."""

    FIELD = "field"
    DEMO = "demo"
    UNIFORM = "uniform"


@dataclass(frozen=True, slots=True)
class Cadence:
    """Report periods in seconds per kind; ``None`` reports at every simulation step."""

    streetlight_s: float | None
    water_basic_s: float | None
    water_lab_s: float | None
    traffic_signal_s: float | None
    checkpoint_s: float | None

    def period_s(self, kind: Kind) -> float | None:
        """The telemetry period of one kind (water: the hourly basic parameters)."""
        return {
            Kind.STREETLIGHT: self.streetlight_s,
            Kind.WATER_QUALITY: self.water_basic_s,
            Kind.TRAFFIC_SIGNAL: self.traffic_signal_s,
            Kind.CHECKPOINT: self.checkpoint_s,
        }[kind]


FIELD_CADENCE = Cadence(
    streetlight_s=900.0,
    water_basic_s=3_600.0,
    water_lab_s=14_400.0,
    traffic_signal_s=60.0,
    checkpoint_s=60.0,
)
_UNIFORM = Cadence(None, None, None, None, None)
_DEMO = Cadence(
    streetlight_s=None,
    water_basic_s=None,
    water_lab_s=None,
    traffic_signal_s=FIELD_CADENCE.traffic_signal_s,
    checkpoint_s=FIELD_CADENCE.checkpoint_s,
)


def cadence_for(mode: CadenceMode | str) -> Cadence:
    """The cadence of a mode: ``field``, ``demo`` or ``uniform``."""
    return {
        CadenceMode.FIELD: FIELD_CADENCE,
        CadenceMode.DEMO: _DEMO,
        CadenceMode.UNIFORM: _UNIFORM,
    }[CadenceMode(mode)]


def report_due(previous_t: float | None, t: float, period_s: float | None, phase_s: float) -> bool:
    """Whether a report falls in ``(previous_t, t]``: the period's instants are
    ``phase_s + k * period_s``. Always due with no period or on the first step."""
    if period_s is None or previous_t is None:
        return True
    return (t - phase_s) // period_s > (previous_t - phase_s) // period_s
