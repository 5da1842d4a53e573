"""A fault in a run's own bookkeeping (its state file, a cache record) ends the run failed with that error, the
steps stopped, the lock let go: it never hangs the run (it did when the final state save raised)."""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scanflow_jupyter as sf
from scanflow_jupyter.engine import NodeState, statefile
from scanflow_jupyter.engine.driverlock import holder_of
from scanflow_jupyter.engine.runner import RUN_ERROR
from scanflow_jupyter.errors import StateWriteError


def step(name: str, *after: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "script": "step.py", **({"depends_on": list(after)} if after else {}), **extra}


def _disk_full_when(monkeypatch: pytest.MonkeyPatch, full: Callable[[int, dict[str, Any]], bool]) -> list[Path]:
    """State writes fail as on a full disk from the first one for which ``full(n, state)`` is true."""
    real = statefile.write_atomic
    calls: list[Path] = []
    filled = False

    def write(path: Path, data: bytes, what: str = "the file") -> None:
        nonlocal filled
        calls.append(path)
        filled = filled or full(len(calls), json.loads(data))
        if filled:
            raise statefile.write_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), what)
        real(path, data, what)

    monkeypatch.setattr(statefile, "write_atomic", write)
    return calls


def _tmp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("tracking", [False, True], ids=["untracked", "tracked"])
def test_a_state_the_disk_refuses_mid_run_fails_the_run(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tracking: bool
) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"sleep": 30.0}), step("c", "b")])
    _disk_full_when(monkeypatch, lambda n, state: state["nodes"]["b"]["state"] == "running")
    result = sf.run(app, tracking=tracking, check=False)
    assert result.status == "failed"
    error = result.errors[RUN_ERROR]
    assert isinstance(error, StateWriteError)
    assert str(error).startswith(f"Could not write the state of run {result.run_id} to {result.state.dir}")
    assert "No space left on device" in str(error) and " free on that disk" in str(error)
    assert result.states["c"] in (NodeState.CANCELLED, NodeState.SKIPPED)  # nothing ran after the fault
    assert result.states["b"] is not NodeState.SUCCEEDED  # the 30 s step was stopped, not waited for
    with pytest.raises(StateWriteError):
        result.raise_for_status()  # what a notebook sees first
    assert holder_of(result.state.dir) is None and not _tmp_files(app.folder)


@pytest.mark.timeout(120)
def test_a_final_save_that_raises_ends_the_run_instead_of_hanging_it(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app([step("a")])
    _disk_full_when(monkeypatch, lambda n, state: state["status"] != "running")  # the final state only
    result = sf.run(app, tracking=False, check=False)
    assert result.status == "failed" and result.states == {"a": NodeState.SUCCEEDED}
    assert isinstance(result.errors[RUN_ERROR], StateWriteError)
    assert holder_of(result.state.dir) is None and not _tmp_files(app.folder)


@pytest.mark.timeout(120)
def test_a_cache_record_that_cannot_be_written_fails_the_run(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app([step("a"), step("b", "a")])
    real = tempfile.mkstemp

    def full_disk(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, path = real(*args, **kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), path  # every write: ENOSPC

    monkeypatch.setattr(tempfile, "mkstemp", full_disk)
    result = sf.run(app, tracking=False, check=False)
    assert result.status == "failed"
    assert result.states["b"] is not NodeState.SUCCEEDED
    assert re.match(
        r"Could not write the cache record .*/\.scanflow/cache/[0-9a-f]{64}\.json: No space left on device",
        str(result.errors[RUN_ERROR]),
    )
    assert not _tmp_files(app.folder)
    assert sf.engine.status(app, result.run_id).status == "failed"


@pytest.mark.timeout(120)
def test_a_run_that_could_not_start_closes_its_parent_run_and_lets_go(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app([step("a")])
    _disk_full_when(monkeypatch, lambda n, state: True)
    with pytest.raises(StateWriteError, match="No space left on device"):
        sf.run(app)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{app.folder / '.scanflow' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("demo")
    assert exp is None or not [r for r in client.search_runs([exp.experiment_id]) if r.info.status == "RUNNING"]
    (run_dir,) = (app.folder / ".scanflow" / "runs").iterdir()
    assert holder_of(run_dir) is None and not _tmp_files(app.folder)
