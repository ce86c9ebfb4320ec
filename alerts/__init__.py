"""The rule engine: rules, evaluation, alert lifecycle and notifications.

Public API::

    rules = alerts.load_rules("config/rules")              # RuleSet, or RuleFileInvalid
    async with alerts.AlertEngine(config, rules, registry, state_path,
                                  listeners=[...]) as engine:   # an ObservationSink
        await engine.submit(observations)
        engine.active_alerts()
        await engine.reload_from("config/rules")            # a bad file keeps the running rules
        await engine.reannounce()                           # every firing alert, to every listener
        engine.listener_stats()                             # delivered, failed, dropped, owed

A listener is any ``Notifier`` (``async def notify(change)``); see ``alerts.model.Notifier``.

Towards people: ``AlertmanagerNotifier`` (a listener) sends alerts to Alertmanager, which
routes, groups, inhibits, silences and notifies; ``AlertOperations`` lists, acknowledges and
silences (the CLI and the API share it); ``AlertRelay`` forwards Alertmanager's webhook to MQTT
and apprise.
"""

from alerts.alertmanager import (
    AlertmanagerConfig,
    AlertmanagerNotifier,
    TargetStats,
    alertmanager_labels,
    postable_alert,
)
from alerts.announce import ListenerStats
from alerts.document import alert_document, change_document, parse_change_document
from alerts.durations import format_duration, parse_duration
from alerts.engine import AlertEngine, AlertsConfig, EngineClosed
from alerts.errors import (
    AlertDocumentInvalid,
    AlertmanagerRefused,
    AlertmanagerUnavailable,
    AlertNotDelivered,
    AlertNotFound,
    AlertsError,
    AlertStateUnusable,
    RelayConfigInvalid,
    RuleFileInvalid,
    RuleTestFileInvalid,
    SilenceNotFound,
)
from alerts.evaluate import Evaluator, Transition
from alerts.interface import Observation, ObservationSink
from alerts.model import Alert, AlertChange, AlertState, ChangeKind, Notifier, fingerprint
from alerts.operations import (
    Acknowledgement,
    AckSilenceExpirer,
    AlertOperations,
    AlertSource,
    AlertView,
    acknowledged_fingerprint,
)
from alerts.publish import MqttAlertPublisher
from alerts.relay import (
    AlertRelay,
    DeliveryLog,
    MqttPublish,
    RelayDeliveryFailed,
    RelayOutcome,
    Subscriber,
    WebhookAlert,
    WebhookPayload,
    group_message,
    load_subscribers,
    notification_key,
)
from alerts.rules import Rule, RuleSet, Severity, load_rules, parse_rules, rule_files
from alerts.silences import AlertmanagerAPI, AlertStatus, Matcher, Silence
from alerts.state import AlertStore, HistoryEntry
from alerts.testing import RuleTestReport, run_rule_tests

__all__ = [
    "AckSilenceExpirer",
    "Acknowledgement",
    "Alert",
    "AlertChange",
    "AlertDocumentInvalid",
    "AlertEngine",
    "AlertNotDelivered",
    "AlertNotFound",
    "AlertOperations",
    "AlertRelay",
    "AlertSource",
    "AlertState",
    "AlertStateUnusable",
    "AlertStatus",
    "AlertStore",
    "AlertView",
    "AlertmanagerAPI",
    "AlertmanagerConfig",
    "AlertmanagerNotifier",
    "AlertmanagerRefused",
    "AlertmanagerUnavailable",
    "AlertsConfig",
    "AlertsError",
    "ChangeKind",
    "DeliveryLog",
    "EngineClosed",
    "Evaluator",
    "HistoryEntry",
    "ListenerStats",
    "Matcher",
    "MqttAlertPublisher",
    "MqttPublish",
    "Notifier",
    "Observation",
    "ObservationSink",
    "RelayConfigInvalid",
    "RelayDeliveryFailed",
    "RelayOutcome",
    "Rule",
    "RuleFileInvalid",
    "RuleSet",
    "RuleTestFileInvalid",
    "RuleTestReport",
    "Severity",
    "Silence",
    "SilenceNotFound",
    "Subscriber",
    "TargetStats",
    "Transition",
    "WebhookAlert",
    "WebhookPayload",
    "acknowledged_fingerprint",
    "alert_document",
    "alertmanager_labels",
    "change_document",
    "fingerprint",
    "format_duration",
    "group_message",
    "load_rules",
    "load_subscribers",
    "notification_key",
    "parse_change_document",
    "parse_duration",
    "parse_rules",
    "postable_alert",
    "rule_files",
    "run_rule_tests",
]
