"""SIGKILL of the MLflow writer process (the child that owns the MLflow client) in the middle of a run: the driver
starts another and sends again what the dead one had not confirmed, so the run still ends with its whole run
tree in MLflow, each run once (an op done twice creates nothing twice)."""

from __future__ import annotations

import random
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from .conftest import STEPS, assert_complete, mlflow_runs, ran, read_state, start, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _scenarios(seed: int = 14) -> list[list[tuple[str, str]]]:
    """When to kill the writer: as a step starts (the writer idle, or creating the next run) or as one ends (its
    closing writes on their way); the last scenario kills it twice in one run."""
    rng = random.Random(seed)
    return [
        [(rng.choice(STEPS[:2]), "start")],
        [(rng.choice(STEPS[1:4]), "end")],
        sorted([(STEPS[2], rng.choice(["start", "end"])), (STEPS[4], "start")], key=lambda t: STEPS.index(t[0])),
    ]


SCENARIOS = _scenarios()


def _writer_of(driver: int, not_these: set[int]) -> psutil.Process | None:
    try:
        children = psutil.Process(driver).children()
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            if "scanflow_jupyter.tracking.writer" in " ".join(child.cmdline()) and child.pid not in not_these:
                return child
        except psutil.NoSuchProcess:
            continue
    return None


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kills", SCENARIOS, ids=["+".join(f"{w}-of-{s}" for s, w in k) for k in SCENARIOS])
def test_sigkill_of_the_mlflow_writer_mid_run_loses_nothing(
    kills: list[tuple[str, str]], fault_app: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fault_app(sleep=0.3)
    driver = start("run", str(folder), "--workers", "2")
    killed: set[int] = set()
    for step, when in kills:
        seen = (when, step)
        wait_for(lambda seen=seen: seen in [(w, n) for w, n, _ in ran(folder)], f"{step} {when}")  # type: ignore[misc]
        writer = wait_for(lambda: _writer_of(driver.pid, killed), "a writer process")
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
        killed.add(writer.pid)
    _, err = driver.communicate(timeout=240)
    assert driver.returncode == 0, err
    assert f"the MLflow writer process died {len(kills)} time(s)" in err, err
    run_id = read_state(folder).run_id
    assert_complete(folder, run_id)
    runs = [r for r in mlflow_runs(folder) if r.tags.get("scanflow.run_id") == run_id]
    assert Counter(r.tags.get("scanflow.node") for r in runs) == Counter([None, "modeling", *STEPS])  # each once
    with capsys.disabled():
        print(f"\n  fault: SIGKILL of the MLflow writer at {kills}: restarted {len(kills)} time(s), 0 lost")
