"""SIGKILL of the driver (a ``scanflow run`` process) at 20 moments of a run's life, each followed by ``scanflow
resume``: the run ends with nothing lost.

The moments are drawn from a fixed seed, so a failure names a moment that can be replayed. Most are exact (the
driver kills itself at a failpoint: see ``scanflow_jupyter/engine/failpoints.py``): before the store is open,
before the first state, before the parent run's id is written, as a step's process starts, as one ends, half-way
through a state write (before and after its rename), after the last step. The rest are timed: a moment into a
chosen step, while it runs.

After each: the steps recorded as finished when the driver died are not run again (their own record says so),
every step's result is there, the state is complete, and MLflow holds the whole run tree with every run closed.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanflow_jupyter.engine.procs import start_time

from .conftest import STEPS, assert_complete, ends, mlflow_runs, ran, read_state, scanflow, start, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SEED = 14
STATE_WRITES = 14  # a run of this application writes its state 16-18 times: every drawn write is reached


@dataclass(frozen=True)
class Moment:
    failpoint: str = ""  # NAME:N, or a timed moment:
    step: str = ""  # ... this long into this step
    delay: float = 0.0

    def __str__(self) -> str:
        return self.failpoint or f"{self.delay:.3f}s-into-{self.step}"


def moments(seed: int = SEED) -> list[Moment]:
    rng = random.Random(seed)
    picked = [Moment(f"{name}:1") for name in ("run.begin", "run.tracking", "run.parent", "run.final")]
    picked += [Moment(f"step.spawned:{n}") for n in sorted(rng.sample(range(1, 6), 2))]
    picked += [Moment(f"step.done:{n}") for n in sorted(rng.sample(range(1, 6), 3))]
    picked += [Moment(f"state.tmp:{n}") for n in sorted(rng.sample(range(1, STATE_WRITES + 1), 3))]
    picked += [Moment(f"state.renamed:{n}") for n in sorted(rng.sample(range(1, STATE_WRITES + 1), 3))]
    picked += [Moment(step=step, delay=round(rng.uniform(0.0, 0.15), 3)) for step in rng.sample(STEPS, 5)]
    return picked


MOMENTS = moments()


def test_the_moments_cover_the_run_and_are_reproducible() -> None:
    assert len(MOMENTS) == 20 and moments() == MOMENTS
    assert len({str(m) for m in MOMENTS}) == 20


@pytest.mark.timeout(240)
@pytest.mark.parametrize("journal", [False, True], ids=["client", "journal"])
@pytest.mark.parametrize("moment", MOMENTS, ids=[str(m) for m in MOMENTS])
def test_sigkill_of_the_driver_then_resume_loses_nothing(
    moment: Moment, journal: bool, fault_app: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``journal``: the run's MLflow writes go through the tracking journal (they may not all be in MLflow when
    the driver dies, and the drainer may still be at them when the resume starts), else MLflow's client."""
    folder = fault_app(journal=journal)
    env = {"SCANFLOW_FAILPOINT": moment.failpoint} if moment.failpoint else {}
    driver = start("run", str(folder), "--workers", "2", "-q", **env)
    if moment.step:
        wait_for(lambda: ("start", moment.step) in [(w, n) for w, n, _ in ran(folder)], f"step {moment.step} starting")
        time.sleep(moment.delay)  # not a wait for something: the moment of the fault, a little way into the step
        driver.send_signal(signal.SIGKILL)
    _, err = driver.communicate(timeout=180)
    assert driver.returncode == -signal.SIGKILL, f"the driver was not killed at {moment}: {err}"

    before = ends(folder)
    left = read_state(folder)  # what the dead driver left on disk, as it left it
    recorded = {a for a, r in left.nodes.items() if r.state in ("succeeded", "cached")} if left else set()
    pids = [pid for what, _, pid in ran(folder) if what == "start"]

    resumed = scanflow("resume", str(folder), "-q")
    if left is None:  # killed before it wrote anything: there is nothing to resume, and nothing was left behind
        assert resumed.returncode == 2 and "Nothing to resume" in resumed.stderr, resumed.stderr
        assert not ran(folder) and not [r for r in mlflow_runs(folder) if r.status == "RUNNING"]
        resumed = scanflow("run", str(folder), "--workers", "2", "-q")
    assert resumed.returncode == 0, resumed.stderr
    run_id = read_state(folder).run_id
    assert left is None or run_id == left.run_id

    after = ends(folder)
    for step in recorded:
        assert after[step] == before[step], f"{step} was recorded finished, and ran again"
    assert set(after) == set(STEPS)  # every step's result is there
    assert not [p for p in pids if start_time(p) is not None]  # the killed attempt's steps are gone
    assert_complete(folder, run_id)
    again = sum(after[s] - before[s] for s in before)
    with capsys.disabled():
        print(
            f"\n  fault: SIGKILL at {moment} ({'journal' if journal else 'client'}): {len(recorded)} step(s) recorded "
            f"done, {again} finished step(s) "
            "run again (their end not yet recorded), 0 lost"
        )
