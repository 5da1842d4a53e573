"""The tracking journal under faults, with real processes on a real MLflow SQLite store: drainers SIGKILLed between
doing a write in MLflow and marking it done (every drainer of the run, again and again), then any command; and two
``scanflow run`` at once on one store, each tree whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from scanflow_jupyter.tracking.journal import drainer_alive, has_pending

from .conftest import STEPS, assert_complete, mlflow_runs, read_state, scanflow, start, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _journal(folder: Path) -> Path:
    return folder / ".scanflow" / "mlflow.db.journal"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("after", [1, 3])
def test_drainers_killed_mid_write_then_any_command_loses_nothing(
    after: int, fault_app: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fault_app(journal=True, sleep=0.1)
    # Every drainer this run starts dies after `after` writes, each done in MLflow and not marked: the next one
    # (started by the driver at the next step, or by the next command) does that write again.
    done = scanflow("run", str(folder), "--workers", "2", "-q", SCANFLOW_DRAINER_KILL_AFTER=str(after))
    assert done.returncode == 0, done.stderr
    run_id = read_state(folder).run_id
    journal = _journal(folder)
    assert journal.exists()
    # The drainer the run started last may still be at work: wait until it has died at its write (or finished).
    wait_for(lambda: not drainer_alive(journal), "the last drainer ending")
    left = has_pending(journal)
    assert left or after > 1, "a drainer that dies after each write left nothing undone"
    status = scanflow("status", str(folder))  # any command: it starts a drainer for what is left
    assert status.returncode == 0, status.stderr
    assert ("MLflow is catching up" in status.stderr) == left, status.stderr
    assert_complete(folder, run_id)
    runs = [r for r in mlflow_runs(folder) if r.tags.get("scanflow.run_id") == run_id]
    assert Counter(r.tags.get("scanflow.node") for r in runs) == Counter([None, "modeling", *STEPS])  # each once
    assert not has_pending(journal)
    with capsys.disabled():
        print(f"\n  fault: every drainer SIGKILLed after {after} write(s), then 'scanflow status': 0 lost")


@pytest.mark.timeout(300)
def test_two_concurrent_runs_on_one_store_keep_both_trees_whole(fault_app: Callable[..., Path]) -> None:
    folder = fault_app(journal=True, sleep=0.1)
    first = start("run", str(folder), "--force", "-q")
    second = start("run", str(folder), "--force", "-q")
    for proc in (first, second):
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    from scanflow_jupyter.engine.state import list_runs

    run_ids = [s.run_id for s in list_runs(folder)]
    assert len(run_ids) == 2
    for run_id in run_ids:
        assert_complete(folder, run_id)
    assert not has_pending(_journal(folder))
