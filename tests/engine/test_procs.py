"""Recorded processes are told apart from reused pids by their start time (psutil), and never signalled on a bare
"a process with this pid exists"."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from scanflow_jupyter.engine.procs import same_process, start_time, stop_process_group


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)


def test_a_process_is_itself_only_with_its_start_time() -> None:
    me = os.getpid()
    started = start_time(me)
    assert started == pytest.approx(psutil.Process().create_time())
    assert same_process(me, started)
    assert not same_process(me, None)  # a pid alone says nothing
    assert not same_process(me, started - 3600)  # another process that had this pid once
    ticks = round((psutil.Process().create_time() - psutil.boot_time()) * os.sysconf("SC_CLK_TCK"))
    assert same_process(me, str(ticks))  # a state written by an older version (/proc clock ticks)


def test_a_pid_with_another_start_time_is_not_signalled() -> None:
    proc = _sleeper()
    try:
        assert not stop_process_group(proc.pid, start_time(proc.pid) - 60)  # as if the pid had been reused
        assert proc.poll() is None
        assert stop_process_group(proc.pid, start_time(proc.pid), grace=5)
        assert proc.wait(10) != 0
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
        "time.sleep(120)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        assert stop_process_group(proc.pid, start_time(proc.pid), grace=0.2)
        assert proc.wait(10) == -9
    finally:
        proc.kill()
        proc.wait()
