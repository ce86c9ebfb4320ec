"""Emergency command: incidents opened from alerts or by hand, response plans (预案) with steps
done by people or by the platform, escalation of overdue steps, timelines, and for a spill where
it goes next.

Public API (the operators' API and the CLI call the same service)::

    plans = command.load_plans("config/plans")                 # PlanFileInvalid names file:line
    rules = command.load_incident_rules("config/incidents.yaml", plans)
    with command.IncidentStore(settings.incidents_state_path) as store:
        service = command.IncidentService(store, plans, rules, registry,
                                          notifications=..., commands=..., annotations=...)
        # an alert engine listener (Notifier): opens and joins incidents from alert changes
        await service.notify(change)
        # or, where several engines run (compose), the changes they publish on MQTT
        await command.AlertFeed(feed_config, service).run()
        # the platform's ticker: platform steps, escalation once, spill forecasts, annotations
        await service.run()
        # the operators' actions
        incident = await service.open_incident("lighting", title=..., district=..., by="li")
        await service.take(incident.id, by="li")
        await service.note(incident.id, by="li", text="crew on the way")
        await service.step_done(incident.id, "send-crew", by="li", comment="van 3")
        await service.set_status(incident.id, command.IncidentStatus.DISPATCHED, by="li")
        await service.escalate(incident.id, by="li", reason="second cabinet down")
        await service.close(incident.id, by="li", report="fuse replaced")
        service.list_incidents(); service.get(incident.id)           # frozen Incident values

Errors (``command.CommandError`` and below) say what was refused and what is allowed.
"""

from command.document import incident_document
from command.errors import (
    CommandError,
    IncidentInvalid,
    IncidentNotFound,
    IncidentStateUnusable,
    IncidentUnchangeable,
    PlanFileInvalid,
    StepNotFound,
    TransitionRefused,
    UnknownPlan,
)
from command.executors import (
    AlertNotificationSender,
    CommandOutcome,
    CommandSender,
    MqttCommandSender,
    NotificationSender,
    StepNotification,
)
from command.feed import AlertFeed, AlertFeedConfig
from command.model import (
    ALLOWED_TRANSITIONS,
    Incident,
    IncidentStatus,
    Performer,
    SpillForecast,
    StepState,
    StepStatus,
    TimelineEntry,
    TimelineKind,
    Waypoint,
    WaypointState,
)
from command.plans import CommandSpec, NotifySpec, Plan, PlanStep, load_plan, load_plans, plan_files
from command.rules import IncidentRules, Intake, Opener, RiverWater, load_incident_rules
from command.service import SYSTEM_ACTOR, AnnotationSink, IncidentService
from command.spill import CoursePoint, RiverCourse, river_course
from command.store import IncidentStore, TimelineRow

__all__ = [
    "ALLOWED_TRANSITIONS",
    "SYSTEM_ACTOR",
    "AlertFeed",
    "AlertFeedConfig",
    "AlertNotificationSender",
    "AnnotationSink",
    "CommandError",
    "CommandOutcome",
    "CommandSender",
    "CommandSpec",
    "CoursePoint",
    "Incident",
    "IncidentInvalid",
    "IncidentNotFound",
    "IncidentRules",
    "IncidentService",
    "IncidentStateUnusable",
    "IncidentStatus",
    "IncidentStore",
    "IncidentUnchangeable",
    "Intake",
    "MqttCommandSender",
    "NotificationSender",
    "NotifySpec",
    "Opener",
    "Performer",
    "Plan",
    "PlanFileInvalid",
    "PlanStep",
    "RiverCourse",
    "RiverWater",
    "SpillForecast",
    "StepNotFound",
    "StepNotification",
    "StepState",
    "StepStatus",
    "TimelineEntry",
    "TimelineKind",
    "TimelineRow",
    "TransitionRefused",
    "UnknownPlan",
    "Waypoint",
    "WaypointState",
    "incident_document",
    "load_incident_rules",
    "load_plan",
    "load_plans",
    "plan_files",
    "river_course",
]
