"""ACLs from the registry: each user gets the least it needs, built from the topic scheme."""

from __future__ import annotations

from devices import Access, DeviceRecord, Grant, Kind, ServiceRole, acl_text, service_grants

FLEET = [
    DeviceRecord(id="SL-0001", kind=Kind.STREETLIGHT, district="centre", cabinet="C-01"),
    DeviceRecord(id="CP-0001", kind=Kind.CHECKPOINT, district="north"),
]


def blocks(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("user "):
            current = line.removeprefix("user ")
        elif line.startswith("topic "):
            found.setdefault(current, []).append(line)
        elif line.startswith("pattern "):
            found.setdefault("(patterns)", []).append(line)
    return found


def test_devices_may_publish_only_their_own_uplink_and_read_only_their_own_cmd() -> None:
    patterns = [line for line in acl_text(FLEET).splitlines() if line.startswith("pattern")]
    assert patterns == [
        "pattern deny city/alerts/#",
        "pattern deny city/deadletter/#",
        "pattern write city/+/+/%u/telemetry",
        "pattern write city/+/+/%u/event",
        "pattern write city/+/+/%u/status",
        "pattern write city/+/+/%u/cmd_result",
        "pattern read city/+/+/%u/cmd",
    ]


def test_the_gateway_reads_the_uplink_channels_only_and_writes_dead_letters() -> None:
    assert blocks(acl_text(FLEET))["platform.gateway"] == [
        "topic read city/+/+/+/telemetry",
        "topic read city/+/+/+/event",
        "topic read city/+/+/+/status",
        "topic read city/+/+/+/cmd_result",
        "topic write city/deadletter/#",
    ]


def test_the_simulators_pool_reaches_only_the_registrys_districts_and_kinds() -> None:
    grants = service_grants(ServiceRole.SIMULATOR, FLEET)
    assert Grant(Access.WRITE, "city/centre/streetlight/+/telemetry") in grants
    assert Grant(Access.READ, "city/north/checkpoint/+/cmd") in grants
    assert not any("centre/checkpoint" in grant.topic_filter for grant in grants)
    assert all(grant.topic_filter.count("+") == 1 for grant in grants)


def test_no_platform_user_may_write_where_it_only_needs_to_read() -> None:
    text = blocks(acl_text(FLEET))
    assert text["platform.engine"] == ["topic write city/alerts/#"]
    assert text["platform.monitor"] == [
        "topic read city/alerts/#",
        "topic read city/deadletter/#",
    ]
    assert "topic write city/+/+/+/cmd" in text["platform.api"]
    assert not any("readwrite" in line for lines in text.values() for line in lines)


def test_the_relay_writes_and_the_monitor_reads_only_the_relays_configured_topics() -> None:
    text = blocks(acl_text(FLEET, relay_topics=["city/wall/alerts"]))
    assert text["platform.relay"] == [
        "topic write city/alerts/#",
        "topic write city/wall/alerts",
    ]
    assert "topic read city/wall/alerts" in text["platform.monitor"]
    assert not any("wall" in line for line in text["platform.engine"])
