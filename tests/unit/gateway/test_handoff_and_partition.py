"""The hand-off from the receiver batches by size and age; partitions keep devices whole."""

from __future__ import annotations

import asyncio

import pytest

from gateway import ConfigInvalid, owner_of, partition_subscriptions
from gateway.handoff import Handoff
from tests.unit.gateway.test_validate import REGISTRY


async def test_a_full_batch_is_taken_at_once_and_a_partial_one_after_its_age() -> None:
    handoff: Handoff[int] = Handoff(100)
    for number in range(25):
        handoff.put(number)
    assert await handoff.take(10, 60.0) == list(range(10))
    assert await handoff.take(10, 60.0) == list(range(10, 20))
    assert await handoff.take(10, 0.01) == list(range(20, 25))


async def test_a_full_handoff_says_so_and_calls_for_more_once_a_take_makes_room() -> None:
    handoff: Handoff[int] = Handoff(5)
    rooms: list[int] = []
    handoff.on_room = lambda: rooms.append(handoff.depth)
    for number in range(5):
        assert not handoff.full
        handoff.put(number)
    assert handoff.full
    assert await handoff.take(3, 60.0) == [0, 1, 2]
    assert not handoff.full
    assert rooms == [2]  # once, when it stopped being full
    assert await handoff.take(3, 0.01) == [3, 4]
    assert rooms == [2]


async def test_a_waiting_consumer_is_woken_by_a_full_batch() -> None:
    handoff: Handoff[int] = Handoff(100)
    taking = asyncio.create_task(handoff.take(3, 60.0))
    await asyncio.sleep(0)
    for number in range(3):
        handoff.put(number)
    assert await asyncio.wait_for(taking, timeout=5) == [0, 1, 2]


async def test_a_closed_handoff_refuses_items_and_drains_what_it_holds() -> None:
    handoff: Handoff[int] = Handoff(5)
    handoff.put(1)
    handoff.close()
    assert handoff.put(2) is False
    assert await handoff.take(10, 60.0) == [1]
    assert await handoff.take(10, 60.0) == []


def test_every_device_has_exactly_one_owner_and_only_its_owner_subscribes() -> None:
    workers = 3
    topics = [partition_subscriptions(REGISTRY, index, workers) for index in range(workers)]
    owner = owner_of("SL-1", workers)
    assert all(bool(topics[index]) == (index == owner) for index in range(workers))
    assert "city/riverside/streetlight/SL-1/telemetry" in topics[owner]
    assert all("/cmd" not in topic.replace("/cmd_result", "") for topic in topics[owner])


def test_a_worker_index_outside_the_count_is_refused() -> None:
    from tests.integration.test_gateway_support import gateway_config

    with pytest.raises(ConfigInvalid, match="worker_index"):
        gateway_config(1883, worker_index=3, worker_count=3)
