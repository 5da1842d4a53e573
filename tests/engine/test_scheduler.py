"""The scheduler on its own: order, parallelism, retries, skip-on-failure, cancellation, reuse."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from scanflow_jupyter.engine import NodeState, Outcome, Scheduler
from scanflow_jupyter.workflow import Executor, Workflow, flatten


def _graph(*nodes: Executor | Workflow) -> Any:
    return flatten(Workflow(name="main", nodes=list(nodes)))


def _ex(name: str, *after: str, **kw: Any) -> Executor:
    return Executor(name=name, function="m:f", depends_on=list(after), **kw)


class Recorder:
    def __init__(self, fail: dict[str, int] | None = None, sleep: float = 0.0) -> None:
        self.fail = dict(fail or {})  # address -> number of attempts that fail
        self.sleep = sleep
        self.calls: list[tuple[str, int]] = []
        self.events: list[tuple[str, NodeState]] = []
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def attempt(self, address: str, n: int) -> Outcome:
        with self.lock:
            self.calls.append((address, n))
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(self.sleep)
        with self.lock:
            self.running -= 1
        if self.fail.get(address, 0) >= n:
            return Outcome(1, error="boom")
        return Outcome(0)

    def on_state(self, address: str, state: NodeState, info: dict[str, Any]) -> None:
        if "retry" not in info:
            self.events.append((address, state))


def test_runs_in_dependency_order() -> None:
    rec = Recorder()
    graph = _graph(_ex("c", "b"), _ex("a"), _ex("b", "a"))
    states = Scheduler(graph, rec.attempt, rec.on_state).run()
    assert [a for a, _ in rec.calls] == ["a", "b", "c"]
    assert set(states.values()) == {NodeState.SUCCEEDED}
    assert rec.events[:2] == [("a", NodeState.RUNNING), ("a", NodeState.SUCCEEDED)]


@pytest.mark.parametrize("workers,expected_peak", [(1, 1), (2, 2), (4, 4)])
def test_independent_steps_run_in_parallel_up_to_workers(workers: int, expected_peak: int) -> None:
    rec = Recorder(sleep=0.15)
    graph = _graph(_ex("src"), *[_ex(f"w{i}", "src") for i in range(6)])
    Scheduler(graph, rec.attempt, rec.on_state, workers=workers).run()
    assert rec.peak == expected_peak
    assert any(state is NodeState.QUEUED for _, state in rec.events) == (workers < 6)


def test_failure_skips_downstream_only() -> None:
    rec = Recorder(fail={"b": 1})
    graph = _graph(_ex("a"), _ex("b", "a"), _ex("c", "b"), _ex("d", "c"), _ex("e", "a"))
    states = Scheduler(graph, rec.attempt, rec.on_state, workers=2).run()
    assert states == {
        "a": NodeState.SUCCEEDED,
        "b": NodeState.FAILED,
        "c": NodeState.SKIPPED,
        "d": NodeState.SKIPPED,
        "e": NodeState.SUCCEEDED,
    }
    assert ("c", 1) not in rec.calls


def test_retries_with_backoff_then_succeeds() -> None:
    rec = Recorder(fail={"a": 2})
    graph = _graph(_ex("a", retries=2, retry_backoff=0.05))
    started = time.perf_counter()
    states = Scheduler(graph, rec.attempt, rec.on_state).run()
    assert states["a"] is NodeState.SUCCEEDED
    assert rec.calls == [("a", 1), ("a", 2), ("a", 3)]
    assert time.perf_counter() - started >= 0.05 + 0.10  # backoff doubles


def test_retries_exhausted_fails() -> None:
    rec = Recorder(fail={"a": 5})
    states = Scheduler(_graph(_ex("a", retries=1, retry_backoff=0)), rec.attempt, rec.on_state).run()
    assert states["a"] is NodeState.FAILED
    assert len(rec.calls) == 2


def test_cancel_stops_scheduling() -> None:
    rec = Recorder(sleep=0.2)
    graph = _graph(_ex("a"), _ex("b", "a"), _ex("c", "b"))
    scheduler = Scheduler(graph, rec.attempt, rec.on_state)
    threading.Timer(0.05, scheduler.cancel).start()
    states = scheduler.run()
    assert states["b"] is NodeState.CANCELLED and states["c"] is NodeState.CANCELLED
    assert [a for a, _ in rec.calls] == ["a"]


def test_initial_states_and_cache_are_reused() -> None:
    rec = Recorder()
    graph = _graph(_ex("a"), _ex("b", "a"), _ex("c", "b"))
    states = Scheduler(
        graph,
        rec.attempt,
        rec.on_state,
        initial={"a": NodeState.SUCCEEDED, "b": NodeState.FAILED},
        try_cache=lambda address: address == "b",
    ).run()
    assert states == {"a": NodeState.SUCCEEDED, "b": NodeState.CACHED, "c": NodeState.SUCCEEDED}
    assert [a for a, _ in rec.calls] == ["c"]


def test_a_backend_exception_fails_the_step_not_the_scheduler() -> None:
    def attempt(address: str, n: int) -> Outcome:
        raise RuntimeError("backend exploded")

    seen: list[Any] = []
    states = Scheduler(_graph(_ex("a"), _ex("b", "a")), attempt, lambda a, s, i: seen.append(i)).run()
    assert states == {"a": NodeState.FAILED, "b": NodeState.SKIPPED}
    assert "backend exploded" in seen[1]["outcome"].error
