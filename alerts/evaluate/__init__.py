"""The evaluator: readings in, alert transitions out. Synchronous and clock-free.

Time is always passed in (``observe(observation, now)``, ``tick(now)``), so tests and rule tests
drive it with a fake clock. Two clocks meet here, and each has its job:

- the *sample time* of a reading is its ``ts`` — unless the device's clock disagrees with the
  arrival time by more than ``max_clock_skew``, when the arrival time stands in for it (a device
  an hour fast must not fire a ``for: 10m`` at once). Windows and ``for:`` use sample time.
- the *engine clock* (``now``) drives what no reading announces: absence, windows emptying, a
  pending ``for:`` running out, the sun setting.

With ``max_clock_skew=None`` the evaluator runs on *event time*: device clocks are trusted and
the engine clock is the latest sample time seen (the watermark). That is for simulated or
replayed time (a scenario run at 600× speed), where arrival time means nothing.

A reading older than the device's latest (out of order) still enters windows and counts, but does
not overwrite the latest state; an exact repeat (same ``ts`` and ``seq``) is ignored.

Inside, one module per seam: ``compile`` (rules → what evaluation needs precomputed), ``judge``
(one condition → a ``Verdict``), ``lifecycle`` (the alert book: pending → firing → resolved),
``gates`` (``when:``: the sun, local time), ``inhibit``; ``subject`` holds the two small values
that cross them, and ``evaluator`` keeps per-device state and routes readings and time.
"""

from alerts.evaluate.evaluator import Evaluator
from alerts.evaluate.lifecycle import Transition

__all__ = ["Evaluator", "Transition"]
