"""Run state on disk: durable atomic writes, a full disk named with the space left, corrupt files named, and no
older run picked in place of a newer one that cannot be read."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scanflow_jupyter as sf
from scanflow_jupyter.engine import statefile, status
from scanflow_jupyter.engine.runner import latest_run
from scanflow_jupyter.engine.state import NodeRecord, RunState, list_runs, runs_dir
from scanflow_jupyter.engine.statefile import StateWriter, write_atomic
from scanflow_jupyter.errors import CorruptStateError, StateWriteError


def _state(folder: Path, run_id: str, status: str = "failed") -> RunState:
    state = RunState(run_id, "demo", str(folder), "main", status=status)
    state.save()
    return state


def _no_space(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(statefile.os, "fsync", full)


def test_a_write_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "new" / "state.json"
    write_atomic(target, b'{"a": 1}')
    write_atomic(target, b'{"a": 2}')
    assert target.read_bytes() == b'{"a": 2}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_a_full_disk_is_named_with_the_space_left_and_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b"old")
    _no_space(monkeypatch)
    with pytest.raises(
        StateWriteError, match=rf"Could not write the file {target}: No space left on device \(.* free on that disk\)"
    ) as info:
        write_atomic(target, b"new")
    assert info.value.path == target
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]  # no .tmp left


def test_the_state_writer_writes_the_newest_and_reports_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    errors: list[StateWriteError] = []
    writer = StateWriter(target, errors.append)
    numbers = [writer.submit(f"{i}".encode()) for i in range(50)]
    writer.wait(numbers[-1])
    assert target.read_bytes() == b"49"
    _no_space(monkeypatch)
    failing = writer.submit(b"50")
    with pytest.raises(StateWriteError, match="No space left on device"):
        writer.wait(failing)
    assert len(errors) == 1 and target.read_bytes() == b"49"
    monkeypatch.undo()  # space again: the newest state gets there
    writer.wait(writer.submit(b"51"))
    writer.close()
    assert target.read_bytes() == b"51" and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


@pytest.mark.parametrize(
    "content,says",
    [
        (b"", "is empty"),
        (b'{"run_id": "x", "app"', "cannot be read"),
        (b"[1, 2]", "cannot be read"),
        (b"\xff\xfe", "cannot be read"),
    ],
    ids=["empty", "truncated", "not an object", "not text"],
)
def test_a_corrupt_state_is_reported_by_name(tmp_path: Path, content: bytes, says: str) -> None:
    run_id = "20990101-000000-aaaaaa"
    path = runs_dir(tmp_path) / run_id / "state.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(CorruptStateError, match=rf"The state of run {run_id}, {path}, {says}") as info:
        RunState.load(tmp_path, run_id)
    assert "start again with 'scanflow run'" in str(info.value) and info.value.path == path


def test_list_runs_reports_unreadable_states_instead_of_passing_them_over(tmp_path: Path) -> None:
    _state(tmp_path, "20990101-000000-aaaaaa")
    bad = runs_dir(tmp_path) / "20990101-000001-bbbbbb" / "state.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"run_id": ')
    with pytest.raises(CorruptStateError, match="20990101-000001-bbbbbb"):
        list_runs(tmp_path)
    corrupt: list[CorruptStateError] = []
    assert [s.run_id for s in list_runs(tmp_path, corrupt=corrupt)] == ["20990101-000000-aaaaaa"]
    assert [e.path for e in corrupt] == [bad]


def test_resume_never_picks_an_older_run_in_place_of_a_newer_corrupt_one(make_app: Callable[..., Any]) -> None:
    app = make_app([{"name": "a", "script": "step.py"}])
    _state(app.folder, "20990101-000000-aaaaaa", status="failed")
    newer = runs_dir(app.folder) / "20990101-000001-bbbbbb" / "state.json"
    newer.parent.mkdir(parents=True)
    newer.write_text("")
    with pytest.raises(CorruptStateError, match=r"The state of run 20990101-000001-bbbbbb, .* is empty"):
        sf.resume(app, tracking=False)
    with pytest.raises(CorruptStateError, match="20990101-000001-bbbbbb"):
        status(app)
    # An older corrupt run does not stand in the way of a newer readable one.
    newer.parent.rename(runs_dir(app.folder) / "20980101-000000-cccccc")
    latest = latest_run(app.folder, unfinished=True)
    assert latest is not None and latest.run_id == "20990101-000000-aaaaaa"


def test_concurrent_saves_of_one_state_never_leave_half_a_file(tmp_path: Path) -> None:
    state = RunState("20990101-000000-aaaaaa", "demo", str(tmp_path), "main")
    state.nodes.update({f"s{i}": NodeRecord() for i in range(50)})
    state.save()
    errors: list[BaseException] = []

    def save() -> None:
        try:
            for _ in range(20):
                state.save()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(50):
        assert len(RunState.load(tmp_path, state.run_id).nodes) == 50
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(p.name for p in state.dir.iterdir()) == ["state.json"]
