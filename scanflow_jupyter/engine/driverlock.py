"""One driver per run: ``.scanflow/runs/<run-id>/driver.lock``, held with ``flock`` for the run's whole life.

The kernel releases a ``flock`` when its holder dies (SIGKILL, a dead kernel, a machine that rebooted), so there
is no pid file to go stale. The file also holds who holds it (pid, host, since when) as JSON, for the message of
the driver that is refused. A command that only looks (``status``, ``runs``) tries the lock without waiting:
held means a driver is alive; free means none is, whatever ``state.json`` says.

Someone who only checks (or fixes up the state of a dead run) holds the lock for milliseconds, so a driver that
finds the lock taken by such a short holder, or by a holder that is gone, waits a moment and tries again; it is
refused at once only when a live driver holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import RunInProgressError
from .procs import same_process, start_time

LOCK_FILE = "driver.lock"
SHORT_HOLD_WAIT = 10.0  # seconds a driver waits for a short holder (a reconcile stopping orphan steps) to finish


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a run's lock."""

    pid: int
    host: str
    since: float  # when it took the lock
    started: float | None  # the holder's process start time (tells it from a reused pid)
    role: str = "driver"  # "driver", or "check": a command fixing up a dead run's state, for a moment

    def describe(self) -> str:
        if not self.pid:
            return f"another process on {self.host} (it has only just taken the run)"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"process {self.pid} on {self.host}, since {when}"

    @property
    def alive(self) -> bool:
        """True if the holder is a live process (on another host: assumed so, it cannot be checked from here)."""
        if self.host != socket.gethostname():
            return True
        return same_process(self.pid, self.started)


def _read_holder(fd: int) -> Holder | None:
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw.decode("utf-8"))
        return Holder(
            int(data["pid"]),
            str(data["host"]),
            float(data["since"]),
            None if data.get("started") is None else float(data["started"]),
            str(data.get("role", "driver")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # empty (released, or being written) or not ours


class DriverLock:
    """The lock of one run folder, held by this process. Use :meth:`acquire`; release with :meth:`release`
    (or as a context manager)."""

    def __init__(self, run_dir: Path, fd: int, holder: Holder) -> None:
        self.run_dir = run_dir
        self._fd: int | None = fd
        self.holder = holder

    @classmethod
    def acquire(cls, run_dir: Path, role: str = "driver", wait: float = SHORT_HOLD_WAIT) -> DriverLock:
        """Take the run's lock, or raise :class:`RunInProgressError` naming the live driver that holds it."""
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise
                holder = _read_holder(fd)
                live_driver = holder is not None and holder.role == "driver" and holder.alive
                if live_driver or time.monotonic() >= deadline:
                    raise RunInProgressError(_refusal(run_dir, holder))
                time.sleep(0.05)  # a short holder, or one that has only just taken it and not yet said who it is
        except BaseException:
            os.close(fd)
            raise
        pid = os.getpid()
        holder = Holder(pid, socket.gethostname(), time.time(), start_time(pid), role)
        record = json.dumps(vars(holder)).encode()
        with contextlib.suppress(OSError):  # a full disk: the lock holds all the same, only the note is missing
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        return cls(run_dir, fd, holder)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let go of the lock (the file stays: removing it would race with the next holder opening it)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # an empty note: "nobody", for whoever reads it before taking the lock
        os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> DriverLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _refusal(run_dir: Path, holder: Holder | None) -> str:
    run_id = run_dir.name
    who = holder.describe() if holder is not None else "another process"
    return (
        f"Run {run_id} is being driven by {who}; one process drives a run at a time. Wait for it to finish, "
        f"or stop that process (a killed driver lets go at once), then 'scanflow resume {run_id}'."
    )


def holder_of(run_dir: Path) -> Holder | None:
    """Who drives the run now, or None if nobody does: tries the lock without waiting (and without creating it).

    A holder that has not yet written its note is reported with pid 0."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None  # never driven by a version that locks, or not yet: nobody holds it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            return _read_holder(fd) or Holder(0, socket.gethostname(), time.time(), None)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
