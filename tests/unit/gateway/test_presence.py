"""Sequence numbers reveal gaps, duplicates, late arrivals, replays and resets."""

from __future__ import annotations

from datetime import UTC, datetime

from devices import Status
from gateway import Presence, SeqVerdict


def verdicts(seqs: list[int]) -> list[SeqVerdict]:
    presence = Presence()
    return [presence.reading("D", seq, 0.0)[0] for seq in seqs]


def test_consecutive_numbers_are_in_order() -> None:
    assert verdicts([5, 6, 7]) == [SeqVerdict.FIRST, SeqVerdict.NEXT, SeqVerdict.NEXT]


def test_a_jump_is_a_gap_counting_the_missing_readings() -> None:
    presence = Presence()
    presence.reading("D", 1, 0.0)
    assert presence.reading("D", 5, 0.0) == (SeqVerdict.GAP, 3)
    assert presence.state("D").missing == 3


def test_a_number_seen_again_is_a_duplicate() -> None:
    assert verdicts([1, 2, 2, 1])[2:] == [SeqVerdict.DUPLICATE, SeqVerdict.DUPLICATE]


def test_a_late_reading_fills_its_gap() -> None:
    presence = Presence()
    for seq in (1, 3, 2):
        presence.reading("D", seq, 0.0)
    assert presence.state("D").missing == 0
    assert presence.state("D").late == 1


def test_an_old_number_never_seen_is_a_replay_and_zero_is_a_reset() -> None:
    presence = Presence()
    presence.reading("D", 10_000, 0.0)
    assert presence.reading("D", 5, 0.0)[0] is SeqVerdict.REPLAY
    assert presence.reading("D", 0, 0.0)[0] is SeqVerdict.RESET
    assert presence.reading("D", 1, 0.0)[0] is SeqVerdict.NEXT


def test_status_and_last_will_set_online_and_offline() -> None:
    presence = Presence()
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    assert presence.status("D", Status(online=True, ts=ts), 5.0)
    assert not presence.status("D", Status(online=True), 6.0)
    assert presence.online_count() == 1
    assert presence.status("D", Status(online=False), 7.0)
    assert presence.online_count() == 0
    assert presence.state("D").last_seen == 7.0
