"""The engine: one scheduler for every backend, the event stream, run state on disk, caching, and the
local backend. MLflow is imported only when a run with tracking starts."""

from __future__ import annotations

from .backend import Backend, Outcome, Task
from .events import Event, EventBus, NodeState, global_bus
from .local import LocalBackend
from .runner import RunResult, WorkflowRun, reconcile, resume, run, status
from .scheduler import Scheduler
from .state import RunState, list_runs

__all__ = [
    "Backend",
    "Event",
    "EventBus",
    "LocalBackend",
    "NodeState",
    "Outcome",
    "RunResult",
    "RunState",
    "Scheduler",
    "Task",
    "WorkflowRun",
    "global_bus",
    "list_runs",
    "reconcile",
    "resume",
    "run",
    "status",
]
