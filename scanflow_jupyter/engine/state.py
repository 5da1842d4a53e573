"""Run state on disk: ``.scanflow/runs/<run-id>/state.json``, written atomically and durably on every change
(see :mod:`.statefile`), so a killed kernel or process leaves a state that ``resume`` can finish. Who drives a
run is the holder of its lock (:mod:`.driverlock`), not a pid in this file."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorruptStateError, RunNotFoundError
from .driverlock import Holder, holder_of
from .events import NodeState
from .procs import start_time
from .statefile import write_atomic

STATE_VERSION = 1


def scanflow_dir(folder: Path) -> Path:
    """The application's private folder (run states, caches, venvs, the default MLflow store)."""
    return folder / ".scanflow"


def runs_dir(folder: Path) -> Path:
    return scanflow_dir(folder) / "runs"


def new_run_id() -> str:
    """A sortable, unique run id: ``20261123-113000-3f9a1c``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


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
    duration: float | None = None  # of the last attempt, as the step's run records it (resume re-sends it)
    pid: int | None = None  # the local process of the running attempt, to stop an orphan after a crash
    pid_started: float | str | None = None  # its start time (a str: /proc clock ticks, from older versions)
    remote: str | None = None  # the container or Job of the running attempt on a remote backend (its name)


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
    pid: int | None = None  # the driving process, for people; whether it is alive is the lock's to say
    pid_started: float | str | None = None
    writer_pid: int | None = None  # its tracking writer, which may outlive it for a moment (resume waits for it)
    writer_started: float | None = None
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
        """Record this process as the one driving the run (for people: the lock is what counts)."""
        self.pid = os.getpid()
        self.pid_started = start_time(self.pid)

    @property
    def holder(self) -> Holder | None:
        """Who drives the run right now (tries its lock without waiting), or None."""
        return holder_of(self.dir)

    @property
    def alive(self) -> bool:
        """True while a process drives the run (holds its lock)."""
        holder = self.holder
        return holder is not None and holder.role == "driver"

    def snapshot(self) -> bytes:
        """The state as the bytes of its file."""
        self.updated = time.time()
        # Shallow copies (asdict's deep copy costs a millisecond a step); dict() snapshots the dicts other
        # threads add to (the tracking writer adds group runs) before json walks them.
        data = dict(vars(self))
        data["mlflow_groups"] = dict(self.mlflow_groups)
        data["nodes"] = {k: dict(vars(v)) for k, v in dict(self.nodes).items()}
        return json.dumps(data).encode()  # json.dump to a file runs the pure-Python encoder: 10x slower

    def save(self) -> None:
        """Write the state atomically and durably, now (a run in progress writes through a
        :class:`~.statefile.StateWriter` instead). Raises :class:`StateWriteError` if the disk refuses."""
        write_atomic(self.dir / "state.json", self.snapshot(), "the state of run " + self.run_id + " to")

    @classmethod
    def load(cls, folder: Path, run_id: str) -> RunState:
        """Read a run's state; ``RunNotFoundError`` lists the latest runs if there is none by that id, and
        ``CorruptStateError`` names a file that cannot be read."""
        path = runs_dir(folder) / run_id / "state.json"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            known = [s.run_id for s in list_runs(folder, corrupt=[])[:5]]
            hint = f"recent runs: {', '.join(known)}" if known else "this application has no runs yet"
            raise RunNotFoundError(f"No run {run_id!r} in {runs_dir(folder)}; {hint}.") from None
        try:
            data = json.loads(raw.decode("utf-8"))
            nodes = {k: NodeRecord(**v) for k, v in data.pop("nodes", {}).items()}
            return cls(**data, nodes=nodes)
        except (ValueError, TypeError, AttributeError) as exc:
            raise corrupt_state(path, exc, len(raw)) from None


def corrupt_state(path: Path, exc: Exception, size: int) -> CorruptStateError:
    run_id = path.parent.name
    what = "is empty" if size == 0 else f"cannot be read ({type(exc).__name__}: {exc})"
    return CorruptStateError(
        f"The state of run {run_id}, {path}, {what}: it was cut short or damaged outside scanflow (a disk "
        f"failure, a copy that stopped half-way). Nothing else is picked in its place. To recover, move the "
        f"folder {path.parent} aside (its MLflow runs stay) and start again with 'scanflow run': the steps "
        "that had finished are reused from the cache.",
        path=path,
    )


def _order_key(run_id: str, state: RunState | None) -> tuple[str, float]:
    # Run ids begin with their UTC start time to the second; within a second, the state's own start time.
    # An unreadable state sorts as the newest of its second: when in doubt, it is reported, not passed over.
    return (run_id[:15], state.created if state is not None else float("inf"))


def list_runs(folder: Path, corrupt: list[CorruptStateError] | None = None) -> list[RunState]:
    """Every run of the application, newest first.

    A ``state.json`` that cannot be read raises :class:`CorruptStateError` naming it; pass a list as ``corrupt``
    to collect those errors there instead (to list the rest and say which could not be read).
    """
    return [s for s in scan_runs(folder, corrupt) if isinstance(s, RunState)]


def scan_runs(folder: Path, corrupt: list[CorruptStateError] | None = None) -> list[RunState | CorruptStateError]:
    """Every run folder, newest first: its state, or (with ``corrupt`` given, where they are also added) the
    error saying why it cannot be read."""
    root = runs_dir(folder)
    if not root.is_dir():
        return []
    found: list[tuple[tuple[str, float], RunState | CorruptStateError]] = []
    for child in root.iterdir():
        if not (child / "state.json").is_file():
            continue
        try:
            state = RunState.load(folder, child.name)
        except CorruptStateError as exc:
            if corrupt is None:
                raise
            corrupt.append(exc)
            found.append((_order_key(child.name, None), exc))
            continue
        except RunNotFoundError:  # removed while we looked
            continue
        found.append((_order_key(child.name, state), state))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [entry for _, entry in found]


def recent_runs(folder: Path, limit: int, corrupt: list[CorruptStateError] | None = None) -> list[RunState]:
    """The ``limit`` newest runs of the application, newest first, reading only their states: run ids begin
    with their UTC start time, so the newest names are the newest runs (a listing of many applications reads a
    handful of files each, not every run). Unreadable states are collected in ``corrupt`` when given, else
    raised."""
    root = runs_dir(folder)
    if not root.is_dir() or limit <= 0:
        return []
    names = sorted((c.name for c in root.iterdir() if not c.name.startswith(".")), reverse=True)
    out: list[RunState] = []
    for name in names:
        if len(out) >= limit:
            break
        try:
            out.append(RunState.load(folder, name))
        except CorruptStateError as exc:
            if corrupt is None:
                raise
            corrupt.append(exc)
        except RunNotFoundError:  # not a run folder, or removed while we looked
            continue
    return sorted(out, key=lambda s: s.created, reverse=True)
