"""Wrong tokens are limited per address, over a sliding window."""

from __future__ import annotations

from api import FailedAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_waits_once_it_has_failed_too_often_and_others_do_not() -> None:
    clock = Clock()
    limiter = FailedAttempts(max_failures=3, window_s=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after_s("10.0.0.1") is None
        limiter.failed("10.0.0.1")
        clock.now += 10
    assert limiter.retry_after_s("10.0.0.1") == 30  # the first failure leaves the window then
    assert limiter.retry_after_s("10.0.0.2") is None
    clock.now += 30
    assert limiter.retry_after_s("10.0.0.1") is None


def test_memory_is_bounded_by_forgetting_the_oldest_addresses() -> None:
    limiter = FailedAttempts(max_failures=1, window_s=60, max_clients=2, clock=Clock())
    for address in ("a", "b", "c"):
        limiter.failed(address)
    assert limiter.retry_after_s("a") is None
    assert limiter.retry_after_s("c") is not None
