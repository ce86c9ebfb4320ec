"""An alert change read back from its MQTT document (the incident service's feed): the same
change as announced; anything else is ``AlertDocumentInvalid`` naming the topic and the field."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts import (
    AlertChange,
    AlertDocumentInvalid,
    ChangeKind,
    change_document,
    parse_change_document,
)
from tests.unit.alerts.factory import T0, evaluator, observe, rule

TOPIC = "city/alerts/centre/streetlight/r"


def announced(change: ChangeKind = ChangeKind.FIRING, *, reannounced: bool = False) -> AlertChange:
    ev = evaluator(rule("streetlight", "{type: threshold, field: lamp_temp_c, above: 80}"))
    ev.observe(observe("SL-1", T0, lamp_temp_c=90))
    return AlertChange(ev.active()[0], change, T0 + timedelta(seconds=5), reannounced)


@pytest.mark.parametrize("reannounced", [False, True])
def test_a_change_document_reads_back_as_the_change_announced(reannounced: bool) -> None:
    change = announced(reannounced=reannounced)
    payload = orjson.dumps(change_document(change))
    assert parse_change_document(payload, source=TOPIC) == change


def test_a_document_missing_a_field_names_the_topic_and_the_field() -> None:
    document = change_document(announced())
    del document["fingerprint"]
    with pytest.raises(AlertDocumentInvalid) as caught:
        parse_change_document(orjson.dumps(document), source=TOPIC)
    assert str(caught.value).startswith(f"{TOPIC}: fingerprint")


def test_a_time_without_an_offset_is_refused() -> None:
    document = change_document(announced()) | {"at": "2026-12-01T08:00:00"}
    with pytest.raises(AlertDocumentInvalid, match="at: needs a UTC offset"):
        parse_change_document(orjson.dumps(document), source=TOPIC)


@given(st.binary(max_size=512))
def test_any_bytes_are_a_change_or_refused_by_name(payload: bytes) -> None:
    try:
        parsed = parse_change_document(payload, source=TOPIC)
    except AlertDocumentInvalid as exc:
        assert exc.source == TOPIC
    else:
        assert isinstance(parsed, AlertChange)
