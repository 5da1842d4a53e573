"""One driver per run, with real processes: a ``resume`` while the run's driver is alive is refused naming it, and
of two ``scanflow resume ID`` started together exactly one drives the run; the other is refused, naming the one
that does (pid, host, since when)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import assert_complete, ends, kill, ran, read_state, scanflow, start, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _refusal(run_id: str, pid: int) -> re.Pattern[str]:
    host = re.escape(socket.gethostname())
    return re.compile(rf"error: Run {run_id} is being driven by process {pid} on {host}, since \d{{4}}-\d\d-\d\d ")


@pytest.mark.timeout(300)
def test_two_concurrent_resumes_of_one_run_exactly_one_drives_it(
    fault_app: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    release = "release"  # prep waits for this file, so the run is going while the others try
    folder = fault_app(prep={"wait-for": release})
    driver = start("run", str(folder), "-q")
    wait_for(lambda: ("start", "prep") in [(w, n) for w, n, _ in ran(folder)], "prep starting")
    run_id = read_state(folder).run_id

    while_alive = scanflow("resume", str(folder), run_id, "-q")
    assert while_alive.returncode == 2 and _refusal(run_id, driver.pid).search(while_alive.stderr), while_alive.stderr
    kill(driver)  # the driver dies with prep running

    first, second = start("resume", str(folder), run_id, "-q"), start("resume", str(folder), run_id, "-q")
    resumers = {first.pid: first, second.pid: second}
    loser_pid = wait_for(lambda: next((p for p, r in resumers.items() if r.poll() is not None), None), "a refusal")
    loser = resumers.pop(loser_pid)
    (winner,) = resumers.values()
    _, err = loser.communicate(timeout=30)
    assert loser.returncode == 2 and _refusal(run_id, winner.pid).search(err), err
    assert "one process drives a run at a time" in err
    (folder / release).write_text("")
    _, err = winner.communicate(timeout=240)
    assert winner.returncode == 0, err
    assert ends(folder) == dict.fromkeys(["gather", "prep", "modeling/linear", "modeling/forest", "evaluate"], 1)
    assert_complete(folder, run_id)
    with capsys.disabled():
        print("\n  fault: two concurrent resumes of one run: one drove it, the other was refused naming it; 0 lost")
