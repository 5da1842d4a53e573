"""Runs the server extension starts, resumes and cancels.

A run started from the sidebar or the editor is driven by a process of its own (:mod:`.worker`), so it survives
the request that started it; its progress is read where every run writes it (``.scanflow/runs/RUN_ID/
state.json``), whoever started it: the CLI, a notebook or the server. Cancelling sends SIGINT to the process
driving the run, which stops it cleanly (the CLI's Ctrl-C).

Example
-------
>>> jobs = Jobs()
>>> run_id = jobs.start_run(Path("examples/tabular"), "pipeline")     # doctest: +SKIP
>>> jobs.cancel(Path("examples/tabular"), run_id)                      # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..engine.state import RunState, new_run_id, runs_dir
from ..errors import RunInProgressError, RunNotFoundError


class Jobs:
    """The worker processes this server started (to reap them, and to cancel a run before its first state)."""

    def __init__(self) -> None:
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._launched: dict[str, float] = {}
        self._lock = threading.Lock()

    def _launch(self, folder: Path, run_id: str, args: list[str]) -> None:
        log_dir = runs_dir(folder) / run_id
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "worker.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "scanflow_jupyter.server.worker", *args],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the server's Ctrl-C does not reach it; cancel does
            )
        with self._lock:
            self._reap()
            self._procs[run_id] = proc
            self._launched[run_id] = time.time()

    def _reap(self) -> None:
        for run_id in [r for r, p in self._procs.items() if p.poll() is not None]:
            del self._procs[run_id]
            self._launched.pop(run_id, None)

    def start_run(self, folder: Path, workflow: str) -> str:
        """Start ``workflow`` of the application in ``folder``; the new run's id (its state appears once the
        worker has opened its tracking)."""
        run_id = new_run_id()
        self._launch(folder, run_id, ["run", str(folder), workflow, run_id])
        return run_id

    def start_resume(self, folder: Path, run_id: str) -> str:
        """Resume run ``run_id`` (failed, cancelled or interrupted); its id."""
        state = RunState.load(folder, run_id)  # RunNotFoundError names the recent runs
        holder = state.holder
        if holder is not None and holder.role == "driver":
            raise RunInProgressError(f"Run {run_id} is still going ({holder.describe()}); cancel it first.")
        if state.status == "succeeded":
            raise RunInProgressError(f"Run {run_id} already succeeded; start a new run instead.")
        self._launch(folder, run_id, ["resume", str(folder), run_id])
        return run_id

    def starting(self, run_id: str, updated: float | None = None) -> bool:
        """True while a worker this server started for ``run_id`` runs and has not yet written the run's state
        (``updated``: the state's last write; None when there is none yet): until then a state on disk is the one
        before the worker (a resumed run's old ``failed``), not news."""
        with self._lock:
            proc = self._procs.get(run_id)
            if proc is None or proc.poll() is not None:
                return False
            return updated is None or updated < self._launched.get(run_id, 0.0)

    def cancel(self, folder: Path, run_id: str) -> bool:
        """Stop run ``run_id``: SIGINT to the process driving it (a worker of this server, ``scanflow run``, a
        notebook's kernel is left alone: see below). True if a signal was sent."""
        with self._lock:
            proc = self._procs.get(run_id)
        try:
            state: RunState | None = RunState.load(folder, run_id)
        except RunNotFoundError:
            state = None
        # The process holding the run's lock is alive (the kernel drops a dead holder's lock): safe to signal.
        holder = state.holder if state is not None and state.status == "running" else None
        if holder is not None and holder.role == "driver" and holder.pid and holder.host == socket.gethostname():
            pid = holder.pid
            if proc is None and pid == os.getpid():
                return False  # a run in this very process (not ours to interrupt): never signal the server
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGINT)
                return True
            return False
        if proc is not None and proc.poll() is None:  # still opening its tracking: no state yet
            proc.send_signal(signal.SIGINT)
            return True
        if state is None:
            raise RunNotFoundError(f"No run {run_id!r} in {runs_dir(folder)}.")
        return False

    def shutdown(self) -> None:
        """Forget the workers (they go on: a run outlives the server that started it)."""
        with self._lock:
            self._procs.clear()
