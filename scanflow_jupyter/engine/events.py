"""Node states, events and the event stream every observer shares (graph widget, CLI progress, tests)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


class NodeState(StrEnum):
    """The life of a node in a run."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CACHED = "cached"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        """True once the node will not change again in this attempt of the run."""
        return self in TERMINAL

    @property
    def ok(self) -> bool:
        """True if downstream nodes may use this node's results."""
        return self in (NodeState.SUCCEEDED, NodeState.CACHED)


TERMINAL = frozenset({NodeState.SUCCEEDED, NodeState.FAILED, NodeState.SKIPPED, NodeState.CACHED, NodeState.CANCELLED})


@dataclass(frozen=True)
class Event:
    """One thing that happened in a run.

    ``kind`` is ``run-started``, ``node`` (a state change, ``state`` set), ``log`` (a line of progress,
    ``message`` set) or ``run-finished`` (``state`` holds the run's outcome).
    """

    kind: str
    run_id: str
    node: str | None = None
    state: NodeState | None = None
    message: str = ""
    time: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


class EventBus:
    """Synchronous publish/subscribe, safe across threads. A failing listener is logged, not raised:
    a broken progress bar must never break a run."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every event from now on; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every listener, in subscription order."""
        with self._lock:
            listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # a listener's bug must not stop the run
                    log.exception("event listener %r failed on %s", listener, event.kind)


# Listeners that want every run's events (the notebook's graph widgets) subscribe here.
global_bus = EventBus()
