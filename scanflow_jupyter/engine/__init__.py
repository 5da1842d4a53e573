"""The engine: one scheduler for every backend, the event stream, run state on disk, caching, and the
local backend. MLflow is imported only when a run with tracking starts.

Names load on first use, so ``python -m scanflow_jupyter.engine.launch`` (which starts every step) stays cheap.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # importing typing for it costs milliseconds


if TYPE_CHECKING:
    from .backend import Backend, Outcome, Task
    from .events import Event, EventBus, NodeState, global_bus
    from .local import LocalBackend
    from .runner import RunResult, WorkflowRun, reconcile, resume, run, status
    from .scheduler import Scheduler
    from .state import RunState, list_runs

_LAZY = {
    "Backend": "backend",
    "Outcome": "backend",
    "Task": "backend",
    "Event": "events",
    "EventBus": "events",
    "NodeState": "events",
    "global_bus": "events",
    "LocalBackend": "local",
    "RunResult": "runner",
    "WorkflowRun": "runner",
    "reconcile": "runner",
    "resume": "runner",
    "run": "runner",
    "status": "runner",
    "Scheduler": "scheduler",
    "RunState": "state",
    "list_runs": "state",
}

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


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scanflow_jupyter.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
