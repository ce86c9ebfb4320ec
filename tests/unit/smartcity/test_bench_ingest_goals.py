"""The ingest benchmark judges each figure against its own goal."""

from __future__ import annotations

from smartcity.bench.ingest import _goals


def test_one_worker_below_its_goal_is_not_rescued_by_two_workers() -> None:
    figures = {
        "gateway_to_paho_raw": 0.54,
        "gateway_2_workers_to_paho_raw": 0.85,
        "latency_p99_s": 0.28,
    }
    goals = _goals(figures, 2)
    assert goals["one_worker_to_paho_raw"] == {
        "measured": 0.54,
        "goal": "at least 0.8",
        "met": False,
    }
    assert goals["2_workers_to_paho_raw"]["met"] is True
    assert goals["latency_p99_s"]["met"] is True


def test_one_worker_alone_has_no_figure_for_several() -> None:
    goals = _goals({"gateway_to_paho_raw": 0.81, "latency_p99_s": 1.2}, 1)
    assert set(goals) == {"one_worker_to_paho_raw", "latency_p99_s"}
    assert goals["one_worker_to_paho_raw"]["met"] is True
    assert goals["latency_p99_s"]["met"] is False
