"""One scheduler for every backend: topological order, independent nodes in parallel up to ``workers``,
retries with backoff, skip-downstream-on-failure, cancellation, and reuse of finished nodes (resume, cache).

The scheduler knows nothing of processes or MLflow: it calls ``attempt(address, n)`` to run one attempt of a
step and ``on_state(address, state, info)`` for every change; the runner supplies both.

A callback that raises (``on_state``, ``try_cache``) never hangs the scheduler: it stops scheduling (as
:meth:`Scheduler.cancel` does), lets the running steps end, and :meth:`Scheduler.run` raises that error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..workflow import Executor, FlatGraph
from .backend import Outcome
from .events import NodeState

Attempt = Callable[[str, int], Outcome]
OnState = Callable[[str, NodeState, dict[str, Any]], None]
TryCache = Callable[[str], bool]


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 0
    backoff: float = 1.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (exponential: backoff, 2x, 4x...)."""
        return float(self.backoff * (2 ** (attempt - 1)))


class Scheduler:
    """Run the steps of ``graph``.

    Parameters
    ----------
    graph: the flattened workflow.
    attempt: runs one attempt of a step and returns its outcome (blocking).
    on_state: called on every state change (from the scheduler's and the workers' threads).
    workers: how many steps may run at once.
    initial: states carried over (resume): ``succeeded``/``cached`` steps are not run again.
    try_cache: called when a step is ready; returning True marks it ``cached`` instead of running it.
    """

    def __init__(
        self,
        graph: FlatGraph,
        attempt: Attempt,
        on_state: OnState,
        workers: int = 1,
        initial: Mapping[str, NodeState] | None = None,
        try_cache: TryCache | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.graph = graph
        self._attempt = attempt
        self._on_state = on_state
        self._try_cache = try_cache or (lambda _address: False)
        self.workers = workers
        self.states: dict[str, NodeState] = {a: NodeState.PENDING for a in graph.nodes}
        for address, state in (initial or {}).items():
            if address in self.states and state.ok:
                self.states[address] = state
        self._order = graph.order()
        self._cond = threading.Condition()
        self._cancelled = threading.Event()
        self._running: set[str] = set()
        self.error: BaseException | None = None  # the first exception a callback raised

    def policy(self, address: str) -> RetryPolicy:
        node = self.graph.nodes[address]
        if isinstance(node, Executor):
            return RetryPolicy(node.retries, node.retry_backoff)
        return RetryPolicy()

    def cancel(self) -> None:
        """Stop scheduling: pending steps become ``cancelled``; running ones are left to the runner to stop."""
        self._cancelled.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _set(self, address: str, state: NodeState, **info: Any) -> None:
        self.states[address] = state
        self._call(self._on_state, address, state, info)

    def _call(self, callback: Callable[..., Any], *args: Any) -> Any:
        """Call a callback of the runner's; one that raises stops the scheduling instead of breaking it."""
        try:
            return callback(*args)
        except Exception as exc:
            if self.error is None:
                self.error = exc
            self.cancel()
            return None

    def run(self) -> dict[str, NodeState]:
        """Run to the end (or cancellation) and return the final state of every step."""
        with ThreadPoolExecutor(self.workers, thread_name_prefix="scanflow-step") as pool, self._cond:
            while True:
                if self._cancelled.is_set():
                    for address in self._order:
                        if self.states[address] in (NodeState.PENDING, NodeState.QUEUED):
                            self._set(address, NodeState.CANCELLED)
                else:
                    self._advance(pool)
                if not self._running:
                    break
                self._cond.wait()
        if self.error is not None:
            raise self.error
        return dict(self.states)

    def _advance(self, pool: ThreadPoolExecutor) -> None:
        """Skip what cannot run, reuse what is cached, start what is ready while workers are free."""
        progressed = True
        while progressed:
            progressed = False
            for address in self._order:
                if self.states[address] not in (NodeState.PENDING, NodeState.QUEUED):
                    continue
                deps = [self.states[d] for d in self.graph.deps[address]]
                if any(d in (NodeState.FAILED, NodeState.SKIPPED, NodeState.CANCELLED) for d in deps):
                    self._set(address, NodeState.SKIPPED, reason="an upstream step did not succeed")
                    progressed = True
                    continue
                if not all(d.ok for d in deps):
                    continue
                if self.states[address] is NodeState.PENDING and self._call(self._try_cache, address):
                    self._set(address, NodeState.CACHED)
                    progressed = True
                    continue
                if self._cancelled.is_set():  # a callback broke just now: start nothing more
                    return
                if len(self._running) < self.workers:
                    self._running.add(address)
                    self._set(address, NodeState.RUNNING, attempt=1)
                    pool.submit(self._work, address)
                elif self.states[address] is NodeState.PENDING:
                    self._set(address, NodeState.QUEUED)

    def _work(self, address: str) -> None:
        policy = self.policy(address)
        outcome = Outcome(None, error="not started")
        attempt = 1
        try:
            while True:
                outcome = self._attempt(address, attempt)
                if outcome.ok or outcome.cancelled or self._cancelled.is_set() or attempt > policy.retries:
                    break
                self._call(self._on_state, address, NodeState.RUNNING, {"retry": attempt + 1, "outcome": outcome})
                if self._cancelled.wait(policy.delay(attempt)):
                    break
                attempt += 1
        except BaseException as exc:  # a backend error is a failed step, never a hung scheduler
            outcome = Outcome(None, error=f"{type(exc).__name__}: {exc}")
        with self._cond:
            try:
                if outcome.ok:
                    state = NodeState.SUCCEEDED
                elif outcome.cancelled or (
                    self._cancelled.is_set() and not outcome.timed_out and outcome.exit_code is None
                ):
                    state = NodeState.CANCELLED
                else:
                    state = NodeState.FAILED
                self._set(address, state, outcome=outcome, attempts=attempt, finished=time.time())
            finally:  # whatever happened above, the scheduler hears that this step is over
                self._running.discard(address)
                self._cond.notify_all()
