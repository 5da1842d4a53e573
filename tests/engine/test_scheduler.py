"""The scheduler on its own: order, parallelism, retries, skip-on-failure, cancellation, reuse."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from scanflow_jupyter.engine import NodeState, Outcome, Scheduler
from scanflow_jupyter.workflow import Executor, Workflow, flatten


def _graph(*nodes: Executor | Workflow) -> Any:
    return flatten(Workflow(name="main", nodes=list(nodes)))


def _ex(name: str, *after: str, **kw: Any) -> Executor:
    return Executor(name=name, function="m:f", depends_on=list(after), **kw)


class Recorder:
    """Attempts that record themselves. ``meet``: the first ``meet`` attempts of a step whose name starts with
    ``w`` wait for each other (a barrier), so they are provably running at once; ``hold``: attempts of these
    steps wait until ``release`` is set, after saying so on ``started``."""

    def __init__(self, fail: dict[str, int] | None = None, meet: int = 0, hold: tuple[str, ...] = ()) -> None:
        self.fail = dict(fail or {})  # address -> number of attempts that fail
        self.calls: list[tuple[str, int]] = []
        self.events: list[tuple[str, NodeState]] = []
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(meet) if meet else None
        self.meeting = 0
        self.hold = hold
        self.started = threading.Event()
        self.release = threading.Event()

    def attempt(self, address: str, n: int) -> Outcome:
        with self.lock:
            self.calls.append((address, n))
            self.running += 1
            self.peak = max(self.peak, self.running)
            meets = self.barrier is not None and address.startswith("w") and self.meeting < self.barrier.parties
            self.meeting += meets
        if meets:
            assert self.barrier is not None
            self.barrier.wait(timeout=30)
        if address in self.hold:
            self.started.set()
            assert self.release.wait(timeout=30), "the test never released the step"
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
    rec = Recorder(meet=workers)  # the first `workers` of w0-w5 wait for each other: they run at once
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


class RecordedWaits:
    """Stands in for the scheduler's cancellation event: records the backoff waits instead of sleeping them."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout if timeout is not None else -1.0)
        return self.event.is_set()

    def is_set(self) -> bool:
        return self.event.is_set()

    def set(self) -> None:
        self.event.set()


def test_retries_with_backoff_then_succeeds() -> None:
    rec = Recorder(fail={"a": 2})
    graph = _graph(_ex("a", retries=2, retry_backoff=0.05))
    scheduler = Scheduler(graph, rec.attempt, rec.on_state)
    waits = RecordedWaits()
    scheduler._cancelled = waits  # type: ignore[assignment]
    states = scheduler.run()
    assert states["a"] is NodeState.SUCCEEDED
    assert rec.calls == [("a", 1), ("a", 2), ("a", 3)]
    assert waits.waits == [0.05, 0.10]  # backoff doubles


def test_retries_exhausted_fails() -> None:
    rec = Recorder(fail={"a": 5})
    states = Scheduler(_graph(_ex("a", retries=1, retry_backoff=0)), rec.attempt, rec.on_state).run()
    assert states["a"] is NodeState.FAILED
    assert len(rec.calls) == 2


def test_cancel_stops_scheduling() -> None:
    rec = Recorder(hold=("a",))
    graph = _graph(_ex("a"), _ex("b", "a"), _ex("c", "b"))
    scheduler = Scheduler(graph, rec.attempt, rec.on_state)

    def cancel_while_a_runs() -> None:
        assert rec.started.wait(30)
        scheduler.cancel()
        rec.release.set()

    canceller = threading.Thread(target=cancel_while_a_runs)
    canceller.start()
    states = scheduler.run()
    canceller.join()
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


@pytest.mark.timeout(60)
@pytest.mark.parametrize("when", ["running", "succeeded"])
def test_an_on_state_that_raises_stops_the_run_instead_of_hanging_it(when: str) -> None:
    rec = Recorder()

    def on_state(address: str, state: NodeState, info: dict[str, Any]) -> None:
        rec.on_state(address, state, info)
        if address == "a" and state.value == when:
            raise OSError(28, "No space left on device")

    scheduler = Scheduler(_graph(_ex("a"), _ex("b", "a")), rec.attempt, on_state)
    with pytest.raises(OSError, match="No space left on device"):
        scheduler.run()
    assert scheduler.states["b"] is NodeState.CANCELLED and ("b", 1) not in rec.calls


@pytest.mark.timeout(60)
def test_a_try_cache_that_raises_stops_the_run() -> None:
    rec = Recorder()

    def try_cache(address: str) -> bool:
        raise RuntimeError("the cache folder is gone")

    scheduler = Scheduler(_graph(_ex("a"), _ex("b", "a")), rec.attempt, rec.on_state, try_cache=try_cache)
    with pytest.raises(RuntimeError, match="the cache folder is gone"):
        scheduler.run()
    assert not rec.calls
