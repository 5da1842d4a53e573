"""The applications under the server's root, as the sidebar lists them: a bounded walk for folders holding a
``scanflow.yaml``, each with its workflows and its latest runs (read from the run states the engine writes).

Example
-------
>>> from pathlib import Path
>>> [a["path"] for a in list_applications(Path("."))]              # doctest: +SKIP
['examples/digits', 'examples/tabular']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypedDict

from ..engine.state import RunState, recent_runs
from ..errors import CorruptStateError, ScanflowError
from ..workflow.spec import SPEC_FILE, load
from .paths import relative_to_root

# The walk stops this deep below the folder it starts from, and after this many applications: a home folder or a
# data lake served as the root must not make the sidebar read the whole disk.
MAX_DEPTH = 4
MAX_APPS = 1000
# Folders never holding an application of the user's (environments, caches, build outputs).
SKIP = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "mlruns", "build", "dist", "lib"})
RECENT_RUNS = 5


class RunSummary(TypedDict):
    """One run as the sidebar shows it."""

    run_id: str
    workflow: str
    status: str
    created: float
    updated: float
    counts: dict[str, int]
    total: int


class WorkflowSummary(TypedDict):
    name: str
    kind: str
    steps: int


class AppSummary(TypedDict):
    """One application: where it is, its workflows, its latest runs, or why it cannot be read."""

    path: str
    name: str
    workflows: list[WorkflowSummary]
    runs: list[RunSummary]
    error: str


def find_application_folders(start: Path, max_depth: int = MAX_DEPTH, limit: int = MAX_APPS) -> list[Path]:
    """Folders under ``start`` (itself included) holding a ``scanflow.yaml``, sorted, at most ``limit``; hidden
    folders and those in :data:`SKIP` are not entered, nor folders below an application (its steps' data)."""
    found: list[Path] = []
    start_depth = len(start.parts)
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        here = Path(dirpath)
        if SPEC_FILE in filenames:
            found.append(here)
            dirnames[:] = []
            if len(found) >= limit:
                break
            continue
        if len(here.parts) - start_depth >= max_depth:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP)
    return sorted(found)


def run_status(state: RunState) -> str:
    """The run's status as a person should read it: a ``running`` run whose driving process is gone is
    ``interrupted`` (``scanflow resume`` finishes it), without rewriting its state from a listing."""
    if state.status == "running" and not state.alive:
        return "interrupted"
    return state.status


def run_summary(state: RunState) -> RunSummary:
    counts: dict[str, int] = {}
    for record in state.nodes.values():
        counts[record.state] = counts.get(record.state, 0) + 1
    return {
        "run_id": state.run_id,
        "workflow": state.workflow,
        "status": run_status(state),
        "created": state.created,
        "updated": state.updated,
        "counts": counts,
        "total": len(state.nodes),
    }


def application_summary(root: Path, folder: Path, runs: int = RECENT_RUNS) -> AppSummary:
    """What the sidebar shows of the application in ``folder``; a spec that cannot be read is listed with its
    error rather than left out (the person fixes it in the editor)."""
    summary: AppSummary = {
        "path": relative_to_root(root, folder),
        "name": folder.name,
        "workflows": [],
        "runs": [],
        "error": "",
    }
    try:
        app = load(folder)
    except ScanflowError as exc:
        summary["error"] = str(exc)
    else:
        summary["name"] = app.name
        summary["workflows"] = [{"name": w.name, "kind": w.kind, "steps": len(w.leaves())} for w in app.workflows]
    corrupt: list[CorruptStateError] = []
    summary["runs"] = [run_summary(s) for s in recent_runs(folder, runs, corrupt)]
    if corrupt and not summary["error"]:
        summary["error"] = str(corrupt[0])  # named, with its recovery: never a run silently left out
    return summary


def list_applications(root: Path, start: Path | None = None, runs: int = RECENT_RUNS) -> list[AppSummary]:
    """Every application under ``start`` (default: the root), as :func:`application_summary` gives them."""
    return [application_summary(root, f, runs) for f in find_application_folders(start or root)]


def run_detail(root: Path, folder: Path, state: RunState) -> dict[str, Any]:
    """A run with every node's record (state, attempts, times, exit code, MLflow run id, error)."""
    data = dict(run_summary(state))
    data["app_path"] = relative_to_root(root, folder)
    data["mlflow_run_id"] = state.mlflow_run_id
    data["tracking_uri"] = state.tracking_uri
    data["experiment_id"] = state.experiment_id
    nodes: dict[str, dict[str, Any]] = {}
    for address, record in state.nodes.items():
        fields = dict(vars(record))
        fields.pop("pid", None)  # the server's business, not the page's
        fields.pop("pid_started", None)
        nodes[address] = fields
    data["nodes"] = nodes
    return data
