"""The seam between the scheduler and where nodes run: a backend launches one node and reports on it.

The local backend runs subprocesses; the Docker and Kubernetes backends (in ``deploy/``) run containers
and Jobs. A backend that can run a whole DAG server-side (Argo) may take the whole workflow instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Task:
    """One attempt of one node, fully resolved and the same for every backend: what the launcher runs and the
    step's own environment. Where the step runs adds the rest: the local backend the interpreter, the launcher's
    path and this machine's environment; a container backend its image's launcher and its tracker.

    ``argv``: the launcher's arguments, ``["script", PATH, --name, value...]`` or ``["call", "module:function",
    ...]`` (see :mod:`.launch`). ``env``: the step's own variables (its node's ``env``, then what the engine sets:
    ``SCANFLOW_RUN_ID``, ``SCANFLOW_NODE``, with tracking ``MLFLOW_EXPERIMENT_ID``, on a retry ``MLFLOW_RUN_ID``).
    ``defaults``: variables set unless the environment says otherwise (the quiet logging defaults). ``tracking``:
    the tracking store as this machine reaches it (``MLFLOW_TRACKING_URI``, credentials in variables of their
    own); empty when the run is not tracked. A remote backend gives its own tracker instead, never these.
    ``run_id_fd``: the read end of the pipe the runner writes the step's MLflow run id to (the launcher waits for
    it). ``requirements``: an isolated step's requirement lines (it runs in a venv of its own), else None.
    ``values``: the attempt's values folder on this machine (:mod:`.values`): the backend makes it the step's
    ``SCANFLOW_VALUES_DIR`` (a remote backend copies ``inputs.json`` in and ``outputs.json`` back); None: no values.
    """

    run_id: str
    address: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    stdout: Path
    stderr: Path
    timeout: float | None = None
    attempt: int = 1
    defaults: dict[str, str] = field(default_factory=dict)
    tracking: dict[str, str] = field(default_factory=dict)
    run_id_fd: int | None = None
    requirements: tuple[str, ...] | None = None
    values: Path | None = None
    on_message: Callable[[str], None] | None = None  # progress a backend reports (a venv being built)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def function(self) -> bool:
        """True when the step is a function (``call``): the application folder goes on its ``PYTHONPATH``."""
        return bool(self.argv) and self.argv[0] == "call"


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended. ``exit_code`` is None when the node never started or was killed."""

    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    duration: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


@runtime_checkable
class Backend(Protocol):
    """Launch one node and report on it.

    A backend whose steps run elsewhere (containers, Jobs) also has ``recover(run_id)``: resuming, the runner
    calls it first, and it stops whatever the attempts before left of run ``run_id`` (a killed driver's containers
    still running), found by their labels, returning their names.
    """

    name: str

    def submit(self, task: Task) -> Any:
        """Start ``task``; return a handle for the other calls."""
        ...

    def wait(self, handle: Any) -> Outcome:
        """Block until the node ends (or is cancelled or times out) and say how it ended."""
        ...

    def status(self, handle: Any) -> str:
        """``running`` or ``exited``."""
        ...

    def logs(self, handle: Any) -> tuple[str, str]:
        """The node's stdout and stderr so far."""
        ...

    def cancel(self, handle: Any) -> None:
        """Stop the node (and anything it started); safe to call twice or after it ended."""
        ...


def tail(path: Path, lines: int = 20, limit: int = 64_000) -> str:
    """The last ``lines`` lines of a text file (reading at most ``limit`` bytes from its end)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])
