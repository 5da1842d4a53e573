"""A run whose ``state.json`` is cut short (a disk that failed, a copy that stopped): every command that would
read it names the file and says how to recover; ``scanflow resume`` does not pick an older run in its place; and
the recovery the message gives loses nothing (the finished steps come back from the cache)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import STEPS, assert_complete, ends, kill, ran, read_state, scanflow, start, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.mark.timeout(300)
def test_a_corrupt_state_is_named_never_passed_over_and_recovery_loses_nothing(
    fault_app: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fault_app(evaluate={"wait-for": "release"})
    # An older run, killed half-way: unfinished, so it is what `resume` would pick if it passed over the newer one.
    older = start("run", str(folder), "-q")
    wait_for(lambda: ("start", "evaluate") in [(w, n) for w, n, _ in ran(folder)], "evaluate starting")
    kill(older)
    older_state = read_state(folder)
    # A newer run, finished; then its state is cut short.
    (folder / "release").write_text("")
    newer = scanflow("run", str(folder), "-q", "--force")
    assert newer.returncode == 0, newer.stderr
    state = read_state(folder)
    assert state.run_id != older_state.run_id
    path = folder / ".scanflow" / "runs" / state.run_id / "state.json"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = ends(folder)

    message = f"The state of run {state.run_id}, {path}, cannot be read"
    for command in (["resume", str(folder)], ["status", str(folder)], ["resume", str(folder), state.run_id]):
        done = scanflow(*command, "-q") if command[0] == "resume" else scanflow(*command)
        assert done.returncode == 1 and f"error: {message}" in done.stderr, (command, done.stderr)
        assert f"move the folder {path.parent} aside" in done.stderr
    listed = scanflow("runs", str(folder))
    assert older_state.run_id in listed.stdout and message in listed.stderr, listed
    assert ends(folder) == before and read_state_of(folder, older_state.run_id) == "interrupted"  # noticed, not resumed

    # The recovery the message gives: move the folder aside, run again; the steps it had finished are reused.
    path.parent.rename(folder / "aside")
    again = scanflow("run", str(folder), "-q")
    assert again.returncode == 0, again.stderr
    assert ends(folder) == before  # every step came from the cache: nothing ran again
    assert set(before) == set(STEPS)
    # The older run was left interrupted (its MLflow runs open): resumed by name, it finishes too.
    assert scanflow("resume", str(folder), older_state.run_id, "-q").returncode == 0
    assert_complete(folder, read_state(folder).run_id)
    assert_complete(folder, older_state.run_id)
    with capsys.disabled():
        print("\n  fault: a state.json cut in half: named by every command, no older run picked; recovery lost 0")


def read_state_of(folder: Path, run_id: str) -> str:
    import json

    return str(json.loads((folder / ".scanflow" / "runs" / run_id / "state.json").read_text())["status"])
