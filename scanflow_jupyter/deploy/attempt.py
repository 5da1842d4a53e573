"""One attempt of one step on a remote backend (a container, a Kubernetes Job): what every remote backend's handle
holds, the starter thread that ``submit`` leaves running, the attempt's unique name, and output turned into lines.

``submit`` must return at once: the runner writes the step's MLflow run id to a pipe only after it returned, and
creating that run overlaps the step's start. So :meth:`AttemptBackend.submit` makes the handle, keeps its own copy
of the pipe's read end (the runner closes its one when ``submit`` returns) and leaves the rest to ``_start`` on a
thread of its own; ``wait`` waits for ``ready`` first.

Every attempt has a name of its own (:func:`attempt_id`: its number and a random tail), in its object's name and
labels: a resume after a killed driver never re-creates the name of an object the killed attempt left (a 409
"already in use"), and the labels find that object, to stop it before the step runs again.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engine.backend import Task, tail

OnLog = Callable[[str, str, str], None]  # (address, stream, line)
LOG_GRACE = 10.0  # seconds the output stream may take to end after the step ended


def attempt_id(task: Task) -> str:
    """The attempt's own id, ``1-3f9a``: its number (a resume counts from 1 again) and a random tail."""
    return f"{task.attempt}-{secrets.token_hex(2)}"


@dataclass
class Attempt:
    """The handle of one attempt on a remote backend; each backend's handle extends it."""

    task: Task
    name: str  # the container's or Job's name, unique to this attempt
    attempt: str = ""  # its attempt_id (a label on what it creates)
    started: float = field(default_factory=time.perf_counter)
    error: str = ""  # why it could not start, reported by wait()
    timed_out: bool = False
    cancelled: bool = False
    ready: threading.Event = field(default_factory=threading.Event)  # the starter is done (or gave up)
    logs_done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def remote(self) -> str:
        """What the run's state records of a running attempt (the runner keeps it beside a local pid)."""
        return self.name


class Lines:
    """Whole lines out of output that comes in pieces (an unbuffered print arrives as "done", " ", "own", "\\n"):
    ``feed`` the pieces of one stream, ``close`` at its end; ``emit`` gets each line, without its newline."""

    def __init__(self, emit: Callable[[str], None] | None) -> None:
        self.emit = emit
        self.partial = b""

    def feed(self, data: bytes) -> None:
        if self.emit is None:
            return
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            self.emit(_text(line))

    def close(self) -> None:
        """Emit the last line if the stream did not end with a newline."""
        partial, self.partial = self.partial, b""
        if partial and self.emit is not None:
            self.emit(_text(partial))


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r")


class AttemptBackend:
    """What the remote backends share: ``submit`` (the starter thread), ``logs``, ``cancel``, the line splitter of
    ``on_log``. A backend gives ``_start`` (create and start the attempt; its errors go to ``handle.error``),
    ``_stop`` and ``_handle``, and says in ``_check`` whether it can run a task at all."""

    name = "remote"
    on_log: OnLog | None = None

    def _check(self, task: Task) -> None:
        """Raise a :class:`~scanflow_jupyter.errors.BackendError` when this backend cannot run ``task`` (before
        anything starts)."""

    def _handle(self, task: Task) -> Attempt:
        """A new handle for ``task``, named for this attempt."""
        raise NotImplementedError

    def _start(self, handle: Any, run_id_fd: int | None) -> None:
        """Create and start the attempt (on the starter thread). ``run_id_fd``: this backend's copy of the run-id
        pipe, which it must close."""
        raise NotImplementedError

    def _stop(self, handle: Any) -> None:
        """Stop the attempt's object, if it was created; safe to call twice."""
        raise NotImplementedError

    def submit(self, task: Task) -> Any:
        self._check(task)
        task.stdout.parent.mkdir(parents=True, exist_ok=True)
        handle = self._handle(task)
        # The runner closes its end of the pipe when submit returns: keep our own copy for the starter.
        fd = os.dup(task.run_id_fd) if task.run_id_fd is not None else None
        starter = threading.Thread(target=self._starter, args=(handle, fd), name=f"{self.name}-{handle.name}")
        starter.daemon = True
        starter.start()
        return handle

    def _starter(self, handle: Attempt, fd: int | None) -> None:
        try:
            self._start(handle, fd)
        except Exception as exc:  # reported as the step's error by wait()
            handle.error = handle.error or f"{type(exc).__name__}: {getattr(exc, 'explanation', None) or exc}"
        finally:
            handle.ready.set()

    def lines(self, address: str, stream: str) -> Lines:
        """A line splitter that hands ``on_log`` each whole line of ``stream`` (``stdout``/``stderr``) of a step."""
        on_log = self.on_log
        return Lines(None if on_log is None else lambda line: on_log(address, stream, line))

    def logs(self, handle: Attempt) -> tuple[str, str]:
        return tail(handle.task.stdout, 10_000), tail(handle.task.stderr, 10_000)

    def cancel(self, handle: Attempt) -> None:
        with handle.lock:
            handle.cancelled = handle.cancelled or not handle.timed_out
        self._stop(handle)

    @staticmethod
    def _read_run_id(fd: int) -> str:
        """The step's MLflow run id from the runner's pipe (empty when the run could not be created)."""
        with os.fdopen(fd, "rb") as pipe:
            return pipe.read().decode().strip()
