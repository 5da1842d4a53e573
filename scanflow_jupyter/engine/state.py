"""Run state on disk: ``.scanflow/runs/<run-id>/state.json``, written atomically on every change, so a
killed kernel or process leaves a state that ``resume`` can finish."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RunNotFoundError
from .events import NodeState

STATE_VERSION = 1


def scanflow_dir(folder: Path) -> Path:
    """The application's private folder (run states, caches, venvs, the default MLflow store)."""
    return folder / ".scanflow"


def runs_dir(folder: Path) -> Path:
    return scanflow_dir(folder) / "runs"


def new_run_id() -> str:
    """A sortable, unique run id: ``20261123-113000-3f9a1c``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (to tell a live process from a reused pid), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def stop_process_group(pid: int, started: str | None, grace: float = 3.0) -> bool:
    """SIGTERM, then SIGKILL, the process group led by ``pid`` if that process is still the one recorded.
    Returns True if something was stopped."""
    if not is_alive(pid, started):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline and is_alive(pid, started):
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return True


def is_alive(pid: int | None, started: str | None) -> bool:
    """True if the process that wrote a state is still running."""
    if pid is None:
        return False
    current = process_start_time(pid)
    if current is None:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return started is None
    return current == started


@dataclass
class NodeRecord:
    """What is known of one node in one run."""

    state: str = NodeState.PENDING.value
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    cache_key: str | None = None
    mlflow_run_id: str | None = None
    cached_from: str | None = None
    error: str | None = None
    pid: int | None = None  # the local process of the running attempt, to stop an orphan after a crash
    pid_started: str | None = None


@dataclass
class RunState:
    """Everything needed to report on, or resume, one workflow run."""

    run_id: str
    app: str
    folder: str
    workflow: str
    status: str = "running"
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    pid: int | None = None
    pid_started: str | None = None
    workers: int = 1
    force: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    tracking_uri: str | None = None  # redacted (tracking.store.redact): no password is written to state.json
    experiment_id: str | None = None
    mlflow_run_id: str | None = None
    mlflow_groups: dict[str, str] = field(default_factory=dict)
    mlflow_stale: list[str] = field(default_factory=list)
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    version: int = STATE_VERSION

    @property
    def dir(self) -> Path:
        return runs_dir(Path(self.folder)) / self.run_id

    def log_dir(self, address: str) -> Path:
        """Where a node's stdout.txt and stderr.txt go."""
        return self.dir / "logs" / address

    def claim(self) -> None:
        """Record this process as the one driving the run."""
        self.pid = os.getpid()
        self.pid_started = process_start_time(self.pid)

    @property
    def alive(self) -> bool:
        """True while the process driving the run is alive."""
        return self.status == "running" and is_alive(self.pid, self.pid_started)

    def save(self) -> None:
        """Write the state atomically (a crash leaves the previous or the new file, never half)."""
        self.updated = time.time()
        self.dir.mkdir(parents=True, exist_ok=True)
        # Shallow copies (asdict's deep copy costs a millisecond a step); dict() snapshots the dicts other
        # threads add to (the tracking writer adds group runs) before json walks them.
        data = dict(vars(self))
        data["mlflow_groups"] = dict(self.mlflow_groups)
        data["nodes"] = {k: dict(vars(v)) for k, v in dict(self.nodes).items()}
        tmp = self.dir / f".state.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data))  # json.dump to a file runs the pure-Python encoder: 10x slower
        os.replace(tmp, self.dir / "state.json")

    @classmethod
    def load(cls, folder: Path, run_id: str) -> RunState:
        """Read a run's state; ``RunNotFoundError`` lists the latest runs if there is none by that id."""
        path = runs_dir(folder) / run_id / "state.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            known = [s.run_id for s in list_runs(folder)[:5]]
            hint = f"recent runs: {', '.join(known)}" if known else "this application has no runs yet"
            raise RunNotFoundError(f"No run {run_id!r} in {runs_dir(folder)}; {hint}.") from None
        nodes = {k: NodeRecord(**v) for k, v in data.pop("nodes", {}).items()}
        return cls(**data, nodes=nodes)


def list_runs(folder: Path) -> list[RunState]:
    """Every run of the application, newest first (unreadable states are passed over)."""
    root = runs_dir(folder)
    if not root.is_dir():
        return []
    out = []
    for child in root.iterdir():
        if (child / "state.json").is_file():
            try:
                out.append(RunState.load(folder, child.name))
            except (ValueError, TypeError, RunNotFoundError):
                continue
    return sorted(out, key=lambda s: s.created, reverse=True)
