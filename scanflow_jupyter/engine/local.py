"""The local backend: each node a subprocess of the current environment (or of a per-requirements venv).

The engine's :class:`~.backend.Task` is the same for every backend; this one adds what is this machine's: the
interpreter (this one, or an isolated step's venv), the launcher's path, and this machine's environment under
the step's own (with the tracking store as this machine reaches it).

Processes get argv lists (never a shell) and their own session, so cancel and timeout stop the whole
process group. ``wait`` blocks in ``waitpid`` (no polling), and a timer enforces the timeout, so a fast
step is not slowed down by a polling interval.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from ..errors import BackendError
from ..step import VALUES_ENV
from .backend import Outcome, Task, tail
from .launch import LAUNCHER
from .state import scanflow_dir
from .venvs import ensure_venv

KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL


@dataclass
class LocalHandle:
    task: Task
    process: subprocess.Popen[bytes]
    started: float
    timed_out: bool = False
    cancelled: bool = False
    timer: threading.Timer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int:
        """The step's process id (also its process group id)."""
        return self.process.pid


class LocalBackend:
    """Run nodes as subprocesses on this machine."""

    name = "local"

    def interpreter(self, task: Task) -> str:
        """The python that runs the step: this one, or an isolated step's venv (built the first time)."""
        if task.requirements is None:
            return sys.executable
        return str(ensure_venv(scanflow_dir(task.cwd) / "venvs", list(task.requirements), task.on_message))

    @staticmethod
    def environment(task: Task) -> dict[str, str]:
        """This machine's environment under the step's own: the defaults, this machine's variables, the step's,
        the tracking store (a variable of this machine never points the step at another store or run)."""
        env = {**task.defaults, **os.environ}
        if task.tracking:
            env.pop("MLFLOW_RUN_ID", None)  # this process's own run, if it runs inside one
        env.update(task.env)
        env["PYTHONUNBUFFERED"] = "1"
        if task.function:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(task.cwd), env.get("PYTHONPATH")]))
        env.update(task.tracking)
        if task.values is not None:
            env[VALUES_ENV] = str(task.values)
        if task.run_id_fd is not None:
            env["SCANFLOW_RUN_ID_FD"] = str(task.run_id_fd)
        return env

    def submit(self, task: Task) -> LocalHandle:
        python = self.interpreter(task)
        task.stdout.parent.mkdir(parents=True, exist_ok=True)
        with open(task.stdout, "ab") as out, open(task.stderr, "ab") as err:
            try:
                process = subprocess.Popen(
                    [python, LAUNCHER, *task.argv],
                    cwd=task.cwd,
                    env=self.environment(task),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    pass_fds=() if task.run_id_fd is None else (task.run_id_fd,),
                )
            except OSError as exc:
                raise BackendError(
                    f"Could not start step {task.address!r} ({python}): {exc.strerror or exc}. "
                    "Check that the interpreter and the application folder exist."
                ) from None
        handle = LocalHandle(task, process, time.perf_counter())
        if task.timeout is not None:
            handle.timer = threading.Timer(task.timeout, self._expire, args=(handle,))
            handle.timer.daemon = True
            handle.timer.start()
        return handle

    def wait(self, handle: LocalHandle) -> Outcome:
        code = handle.process.wait()
        if handle.timer is not None:
            handle.timer.cancel()
        duration = time.perf_counter() - handle.started
        if handle.timed_out or handle.cancelled:
            return Outcome(None, timed_out=handle.timed_out, cancelled=handle.cancelled, duration=duration)
        error = "" if code == 0 else tail(handle.task.stderr)
        return Outcome(code, duration=duration, error=error)

    def status(self, handle: LocalHandle) -> str:
        return "running" if handle.process.poll() is None else "exited"

    def logs(self, handle: LocalHandle) -> tuple[str, str]:
        return tail(handle.task.stdout, 10_000), tail(handle.task.stderr, 10_000)

    def cancel(self, handle: LocalHandle) -> None:
        with handle.lock:
            if handle.process.poll() is not None:
                return
            handle.cancelled = handle.cancelled or not handle.timed_out
        self._stop(handle)

    def _expire(self, handle: LocalHandle) -> None:
        with handle.lock:
            if handle.process.poll() is not None or handle.cancelled:
                return
            handle.timed_out = True
        self._stop(handle)

    @staticmethod
    def _stop(handle: LocalHandle) -> None:
        """SIGTERM the process group, then SIGKILL it if it is still there after a grace period."""
        pgid = handle.process.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            handle.process.wait(KILL_GRACE)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
