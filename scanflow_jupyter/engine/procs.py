"""Processes recorded in a run's state (the driver, its tracking writer, a step's process group), told apart from
a later process that reuses the pid by their start time, through psutil (Linux, macOS, Windows; no ``/proc``).

A recorded pid is only ever signalled after its start time matches the one recorded: a bare "a process with this
pid exists" is never enough, since pids are reused.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

# psutil reports start times to 1/100 s on Linux (clock ticks); a reused pid cannot start within that of the first.
SAME_START = 0.05


def start_time(pid: int | None) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if there is no such process (or it has
    exited and is a zombie)."""
    if pid is None:
        return None
    import psutil  # imported here: the launcher and ``import scanflow_jupyter`` stay cheap

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None  # it has exited; only its parent has not read its exit status yet
        return float(process.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, ValueError):
        return None


def _as_seconds(started: float | str | None) -> float | None:
    """A recorded start time; states written before 0.x hold ``/proc/PID/stat``'s clock ticks since boot."""
    if started is None or isinstance(started, float | int):
        return None if started is None else float(started)
    try:
        ticks = int(started)
    except ValueError:
        return None
    import psutil

    return float(psutil.boot_time()) + ticks / os.sysconf("SC_CLK_TCK")


def same_process(pid: int | None, started: float | str | None) -> bool:
    """True if ``pid`` is still the process that was recorded with start time ``started``.

    Without a recorded start time the answer is False: the pid alone cannot say it is the same process.
    """
    recorded = _as_seconds(started)
    if pid is None or recorded is None:
        return False
    current = start_time(pid)
    return current is not None and abs(current - recorded) < SAME_START


def wait_gone(pid: int | None, started: float | str | None, timeout: float) -> bool:
    """Wait until the recorded process has exited (or ``timeout`` passed); True if it is gone."""
    deadline = time.monotonic() + timeout
    while same_process(pid, started):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_process_group(pid: int, started: float | str | None, grace: float = 3.0) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds, the process group led by ``pid``, if ``pid`` is still the
    process recorded (its start time matches). Returns True if something was stopped."""
    if not same_process(pid, started):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    wait_gone(pid, started, grace)
    # The group may outlive its leader (a step's own children). Its id cannot be handed to a new process while
    # the group has members (POSIX), so the SIGKILL reaches what is left of this group, or nothing.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return True
