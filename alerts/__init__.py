"""The rule engine: rules, evaluation, alert lifecycle and notifications."""

from alerts.interface import Observation, ObservationSink

__all__ = ["Observation", "ObservationSink"]
