"""The rule engine: rules, evaluation, alert lifecycle and notifications.

Public API::

    rules = alerts.load_rules("config/rules")              # RuleSet, or RuleFileInvalid
    async with alerts.AlertEngine(config, rules, registry, state_path,
                                  listeners=[...]) as engine:   # an ObservationSink
        await engine.submit(observations)
        engine.active_alerts()
        await engine.reload_from("config/rules")            # a bad file keeps the running rules
"""

from alerts.document import alert_document, change_document
from alerts.durations import format_duration, parse_duration
from alerts.engine import AlertEngine, AlertsConfig, EngineClosed
from alerts.errors import AlertsError, AlertStateUnusable, RuleFileInvalid, RuleTestFileInvalid
from alerts.evaluate import Evaluator, Transition
from alerts.interface import Observation, ObservationSink
from alerts.model import Alert, AlertChange, AlertState, ChangeKind, Notifier, fingerprint
from alerts.publish import MqttAlertPublisher
from alerts.rules import Rule, RuleSet, Severity, load_rules, parse_rules, rule_files
from alerts.silence import Silence
from alerts.state import AlertStore
from alerts.testing import RuleTestReport, run_rule_tests

__all__ = [
    "Alert",
    "AlertChange",
    "AlertEngine",
    "AlertState",
    "AlertStateUnusable",
    "AlertStore",
    "AlertsConfig",
    "AlertsError",
    "ChangeKind",
    "EngineClosed",
    "Evaluator",
    "MqttAlertPublisher",
    "Notifier",
    "Observation",
    "ObservationSink",
    "Rule",
    "RuleFileInvalid",
    "RuleSet",
    "RuleTestFileInvalid",
    "RuleTestReport",
    "Severity",
    "Silence",
    "Transition",
    "alert_document",
    "change_document",
    "fingerprint",
    "format_duration",
    "load_rules",
    "parse_duration",
    "parse_rules",
    "rule_files",
    "run_rule_tests",
]
