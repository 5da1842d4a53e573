"""One driver per run: the lock in the run folder, who holds it, and what happens when its holder dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scanflow_jupyter as sf
from scanflow_jupyter.engine import list_runs, status
from scanflow_jupyter.engine.driverlock import LOCK_FILE, DriverLock, holder_of
from scanflow_jupyter.errors import RunInProgressError

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from scanflow_jupyter.engine.driverlock import DriverLock
    lock = DriverLock.acquire(Path(sys.argv[1]))
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin (or kills us)
    """
)


def _holder_process(run_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_driver_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    run_dir = tmp_path / "20990101-000000-abcdef"
    holder = _holder_process(run_dir)
    try:
        found = holder_of(run_dir)
        assert found is not None and found.pid == holder.pid and found.host == socket.gethostname()
        message = (
            rf"Run 20990101-000000-abcdef is being driven by process {holder.pid} on {socket.gethostname()}, since 20"
        )
        with pytest.raises(RunInProgressError, match=message):
            DriverLock.acquire(run_dir, wait=0.2)
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_goes_with_its_holder_when_it_is_killed(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    holder = _holder_process(run_dir)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert holder_of(run_dir) is None  # the kernel let go of the flock; the note it left does not count
    with DriverLock.acquire(run_dir, wait=0) as lock:
        assert lock.holder.pid == os.getpid()
        assert holder_of(run_dir) is not None  # seen from another descriptor, even in this process
    assert holder_of(run_dir) is None
    assert (run_dir / LOCK_FILE).read_bytes() == b""  # released: nobody is named


def test_a_short_holder_is_waited_for_not_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    check = DriverLock.acquire(run_dir, role="check", wait=0)  # what status/reconcile take for a moment
    released = threading.Event()

    def let_go() -> None:
        released.wait(30)
        check.release()

    thread = threading.Thread(target=let_go)
    thread.start()
    try:
        with pytest.raises(RunInProgressError):
            DriverLock.acquire(run_dir, wait=0)  # no waiting: refused
        released.set()
        with DriverLock.acquire(run_dir, wait=30):  # waits the check out
            pass
    finally:
        released.set()
        thread.join()


def test_probing_a_run_that_was_never_locked_creates_nothing(tmp_path: Path) -> None:
    assert holder_of(tmp_path / "nothing") is None
    assert not (tmp_path / "nothing").exists()


WAIT_FOR_FILE = """
import os, sys, time
open("started", "w").close()
deadline = time.time() + 60
while not os.path.exists("release") and time.time() < deadline:
    time.sleep(0.05)
"""


@pytest.mark.timeout(120)
def test_the_notebook_and_the_cli_cannot_both_drive_a_run(make_app: Callable[..., Any]) -> None:
    """A run driven in this process (as a notebook kernel drives one) refuses a `scanflow resume` of it, and
    `status` sees it going; once it ends, nobody holds it."""
    app = make_app([{"name": "a", "script": "wait.py"}], files={"wait.py": WAIT_FOR_FILE})
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(sf.run(app, tracking=False)))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not (app.folder / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (state,) = list_runs(app.folder)
        assert state.alive and status(app, state.run_id).status == "running"
        resume = subprocess.run(
            [sys.executable, "-m", "scanflow_jupyter.cli", "resume", str(app.folder), state.run_id],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert resume.returncode == 2
        assert f"is being driven by process {os.getpid()} on {socket.gethostname()}, since " in resume.stderr
    finally:
        (app.folder / "release").write_text("")
        thread.join(60)
    assert results[0].ok and not list_runs(app.folder)[0].alive
