"""Fixtures for the agent tests: a small application on a real MLflow SQLite store in tmp_path, and helpers to wait
for an agent in the background."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.agents import runtime

# A step that sleeps, fails or succeeds as asked, and counts its runs in out/runs.txt (stdlib only: quick to start).
STEP = textwrap.dedent(
    """
    import os, sys, time
    opts = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    os.makedirs("out", exist_ok=True)
    with open("out/runs.txt", "a") as fh:
        fh.write(os.environ.get("SCANFLOW_RUN_ID", "") + "\\n")
    time.sleep(float(opts.get("--sleep", "0")))
    if opts.get("--fail") == "true":
        print("the step failed on purpose", file=sys.stderr)
        sys.exit(3)
    print("trained")
    """
)


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    """Application ``loop`` with a workflow ``train`` of one step ``fit`` (parameters ``sleep`` and ``fail``)."""
    application = make_app(
        [{"name": "fit", "script": "fit.py", "parameters": {"sleep": 0.0, "fail": False}, "cache": False}],
        files={"fit.py": STEP},
        name="loop",
    )
    application.workflows[0].name = "train"
    application.save()
    return application


@pytest.fixture
def client(app: Any) -> Any:
    """An MLflow client of the application's store."""
    from mlflow import MlflowClient

    from scanflow_jupyter.tracking.store import resolve

    return MlflowClient(resolve(app).uri)


@pytest.fixture(autouse=True)
def _no_agent_left() -> Iterator[None]:
    """Every test ends with its agents stopped and forgotten: no thread of one test runs into the next."""
    yield
    runtime.stop_all(timeout=60)
    with runtime._registry_lock:
        runtime._registry.clear()


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def agent_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("scanflow-agent-")]


def experiment_runs(client: Any, experiment: str, filter: str = "") -> list[Any]:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return list(client.search_runs([found.experiment_id], filter_string=filter, max_results=1000))


def create_experiment(client: Any, name: str) -> str:
    """Experiment ``name`` with its artifacts beside the client's SQLite store (MLflow alone would put them in
    ./mlruns of the working directory: the repository)."""
    db = Path(client.tracking_uri.removeprefix("sqlite:///"))
    return str(client.create_experiment(name, artifact_location=(db.parent / "artifacts" / name).as_uri()))


def inject_drift(client: Any, experiment: str, batch: str = "work/incoming/b1.npz") -> str:
    """Record a drift check the way the checker does (what the improver reads); returns its run id."""
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found is not None else create_experiment(client, experiment)
    run = client.create_run(experiment_id, run_name=f"check {batch}", tags={"scanflow.check": "true"})
    client.log_metric(run.info.run_id, "drift.detected", 1.0)
    client.set_terminated(run.info.run_id, "FINISHED")
    return str(run.info.run_id)
