"""Whole runs on the local backend with real MLflow tracking: tree, failures, timeouts, caching, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

import scanflow_jupyter as sf
from scanflow_jupyter.engine import NodeState, RunState, list_runs, status
from scanflow_jupyter.engine.state import NodeRecord
from scanflow_jupyter.errors import (
    ParameterError,
    RunNotFoundError,
    StepFailedError,
    StepTimeoutError,
    WorkflowValidationError,
)
from scanflow_jupyter.workflow import load

from ..conftest import ROOT


def client_for(folder: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{folder / '.scanflow' / 'mlflow.db'}")


def runs_by_name(folder: Path, run_id: str) -> dict[str, Any]:
    client = client_for(folder)
    exp = client.get_experiment_by_name(load(folder).name)
    runs = client.search_runs([exp.experiment_id], f"tags.`scanflow.run_id` = '{run_id}'", max_results=1000)
    return {r.info.run_name: r for r in runs}


def order(folder: Path) -> list[str]:
    path = folder / "out" / "order.txt"
    return path.read_text().split() if path.exists() else []


def step(name: str, *after: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "script": "step.py", **({"depends_on": list(after)} if after else {}), **extra}


@pytest.mark.slow
def test_example_run_tree_cache_and_parameter_change(tabular: Path) -> None:
    app = load(tabular)
    result = sf.run(app, workers=2)
    assert result.ok and set(result.states.values()) == {NodeState.SUCCEEDED}

    runs = runs_by_name(tabular, result.run_id)
    parent = runs[f"pipeline {result.run_id}"]
    assert set(runs) == {
        parent.info.run_name,
        "gather",
        "preprocess",
        "modeling",
        "modeling/linear",
        "modeling/forest",
        "evaluate",
    }
    pid = parent.info.run_id
    assert runs["modeling"].data.tags["mlflow.parentRunId"] == pid
    for name in ("gather", "preprocess", "evaluate"):
        assert runs[name].data.tags["mlflow.parentRunId"] == pid
    for name in ("modeling/linear", "modeling/forest"):
        assert runs[name].data.tags["mlflow.parentRunId"] == runs["modeling"].info.run_id
    assert all(r.info.status == "FINISHED" for r in runs.values())
    # The scripts' own mlflow.start_run() calls landed in the step runs...
    assert "train_accuracy" in runs["modeling/linear"].data.metrics
    assert {"accuracy_linear", "accuracy_forest"} <= set(runs["evaluate"].data.metrics)
    assert runs["preprocess"].data.params["test-size"] == "0.25"
    assert runs["gather"].data.metrics["scanflow.exit_code"] == 0
    assert runs["gather"].data.metrics["scanflow.duration_s"] > 0
    arts = {a.path for a in client_for(tabular).list_artifacts(runs["evaluate"].info.run_id, "logs")}
    assert arts == {"logs/stdout.txt", "logs/stderr.txt"}
    # ...and none became a stray top-level run.
    client = client_for(tabular)
    exp = client.get_experiment_by_name("tabular")
    every = client.search_runs([exp.experiment_id], max_results=1000)
    assert [r.info.run_id for r in every if "mlflow.parentRunId" not in r.data.tags] == [pid]
    graph = client.download_artifacts(pid, "scanflow/graph.json")
    assert json.loads(Path(graph).read_text())["nodes"]["evaluate"] == ["modeling/forest", "modeling/linear"]

    again = sf.run(app, workers=2)
    assert set(again.states.values()) == {NodeState.CACHED}
    cached = runs_by_name(tabular, again.run_id)
    assert cached["gather"].data.tags["scanflow.cached_from"] == runs["gather"].info.run_id
    assert cached["gather"].data.tags["scanflow.cached_from_run_id"] == result.run_id
    assert all(r.info.status == "FINISHED" for r in cached.values())
    # A cached step's run carries the result it reuses: every metric point, with its own step and timestamp.
    for name in ("gather", "modeling/linear", "evaluate"):
        assert cached[name].data.metrics == runs[name].data.metrics, name
    source, copy = runs["modeling/linear"].info.run_id, cached["modeling/linear"].info.run_id
    for key in runs["modeling/linear"].data.metrics:
        points = [(m.value, m.step, m.timestamp) for m in client.get_metric_history(source, key)]
        assert [(m.value, m.step, m.timestamp) for m in client.get_metric_history(copy, key)] == points
    import mlflow
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    # Set and put back (the environment variable too: MLflow sets it, and the next run here would track there).
    with _use_tracking_uri(f"sqlite:///{tabular / '.scanflow' / 'mlflow.db'}"):
        frame = mlflow.search_runs([exp.experiment_id], f"tags.`scanflow.run_id` = '{again.run_id}'")
    assert "MLFLOW_TRACKING_URI" not in os.environ
    steps = frame[frame["tags.scanflow.kind"] == "step"]
    assert steps["metrics.scanflow.duration_s"].notna().all() and steps["metrics.train_accuracy"].notna().any()

    changed = sf.run(app, workers=2, params={"modeling/forest.n-estimators": 20})
    assert changed.states == {
        "gather": NodeState.CACHED,
        "preprocess": NodeState.CACHED,
        "modeling/linear": NodeState.CACHED,
        "modeling/forest": NodeState.SUCCEEDED,
        "evaluate": NodeState.SUCCEEDED,
    }
    assert runs_by_name(tabular, changed.run_id)["modeling/forest"].data.params["n-estimators"] == "20"


def test_parameter_change_reruns_that_step_and_downstream(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"x": 1}), step("c", "b"), step("d", "a")])
    folder = app.folder
    sf.run(app, tracking=False)
    assert sorted(order(folder)) == ["a", "b", "c", "d"]
    sf.run(app, tracking=False)
    assert len(order(folder)) == 4  # all cached
    result = sf.run(app, tracking=False, params={"b": {"x": 2}})
    assert order(folder)[4:] == ["b", "c"]
    assert result.states["a"] is NodeState.CACHED and result.states["d"] is NodeState.CACHED
    forced = sf.run(app, tracking=False, force=True)
    assert set(forced.states.values()) == {NodeState.SUCCEEDED}
    # Editing a step's code invalidates it and what depends on it.
    (folder / "other.py").write_text((folder / "step.py").read_text() + "\n# changed\n")
    edited = load(folder)
    edited.workflow().find("c").script = "other.py"  # type: ignore[union-attr]
    edited.save()
    after_edit = sf.run(load(folder), tracking=False)
    assert [a for a, s in after_edit.states.items() if s is NodeState.SUCCEEDED] == ["c"]


def test_declared_output_removed_means_rerun(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a", outputs=["out/a.json"])])
    sf.run(app, tracking=False)
    assert sf.run(app, tracking=False).states["a"] is NodeState.CACHED
    (app.folder / "out" / "a.json").unlink()
    assert sf.run(app, tracking=False).states["a"] is NodeState.SUCCEEDED


def test_failing_step_error_has_its_stderr_and_skips_downstream(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"fail": True}), step("c", "b"), step("d", "a")])
    with pytest.raises(StepFailedError) as info:
        sf.run(app, workers=2)
    message = str(info.value)
    assert "Step 'b' exited with code 3" in message
    assert "something went wrong in the step" in message
    assert "scanflow resume" in message
    result = info.value  # the run's record on disk agrees
    state = status(app)
    assert state.status == "failed"
    assert {a: r.state for a, r in state.nodes.items()} == {
        "a": "succeeded",
        "b": "failed",
        "c": "skipped",
        "d": "succeeded",
    }
    runs = runs_by_name(app.folder, state.run_id)
    assert runs["b"].info.status == "FAILED"
    assert runs[f"main {state.run_id}"].info.status == "FAILED"
    assert result.exit_code == 3


SLOW_WITH_PID = """
import os, time
with open("slow.pid", "w") as fh:
    fh.write(str(os.getpid()))
time.sleep(60)
open("slow.done", "w").close()
"""


def test_step_past_its_timeout_is_stopped(make_app: Callable[..., Any]) -> None:
    app = make_app([{"name": "slow", "script": "slow.py", "timeout": 0.5}], files={"slow.py": SLOW_WITH_PID})
    with pytest.raises(StepTimeoutError, match=r"Step 'slow' ran past its timeout of 0.5 s and was stopped"):
        sf.run(app, tracking=False)
    with pytest.raises(ProcessLookupError):
        os.kill(int((app.folder / "slow.pid").read_text()), 0)  # stopped, not waited for
    assert not (app.folder / "slow.done").exists()


def test_shell_metacharacters_are_passed_literally(make_app: Callable[..., Any], tmp_path: Path) -> None:
    evil = f"; touch {tmp_path}/pwned && echo $(id) `whoami` | cat > {tmp_path}/x' \" \\ *"
    app = make_app([step("a", parameters={"value": evil})])
    sf.run(app, tracking=False)
    recorded = json.loads((app.folder / "out" / "a.json").read_text())
    assert recorded["argv"] == ["--value", evil]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "x").exists()


FUNCTIONS = """
import json, os

def train(epochs: int, rate: float = 0.1, verbose: bool = False, tag: str = "x"):
    with open("fn.json", "w") as fh:
        json.dump({"epochs": epochs, "rate": rate, "verbose": verbose, "tag": tag,
                   "run_id": os.environ.get("MLFLOW_RUN_ID")}, fh)

def broken():
    raise ValueError("the function failed on purpose")
"""


def test_function_executors(make_app: Callable[..., Any]) -> None:
    app = make_app(
        [
            {
                "name": "fit",
                "function": "tasks:train",
                "parameters": {"epochs": 3, "rate": 0.5, "verbose": True, "tag": "a b"},
            }
        ],
        files={"tasks.py": FUNCTIONS},
    )
    result = sf.run(app)
    data = json.loads((app.folder / "fn.json").read_text())
    assert data["epochs"] == 3 and data["rate"] == 0.5 and data["verbose"] is True and data["tag"] == "a b"
    assert data["run_id"] == result.state.nodes["fit"].mlflow_run_id


def test_function_that_raises_reports_its_traceback(make_app: Callable[..., Any]) -> None:
    app = make_app([{"name": "bad", "function": "tasks:broken"}], files={"tasks.py": FUNCTIONS})
    with pytest.raises(StepFailedError, match=r"(?s)exited with code 1.*ValueError: the function failed on purpose"):
        sf.run(app, tracking=False)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"nope.x": 1}, r"no step 'nope' in workflow 'main'"),
        ({"b.y": 1}, r"step 'b' declares no parameter 'y' \(it declares: x\)"),
        ({"b.x": "many"}, r"Parameter 'b.x' expects an int, got 'many'"),
    ],
    ids=["unknown step", "unknown parameter", "wrong type"],
)
def test_bad_overrides(make_app: Callable[..., Any], params: dict[str, Any], message: str) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"x": 1})])
    with pytest.raises(ParameterError, match=message):
        sf.run(app, tracking=False, params=params)
    assert list_runs(app.folder) == []  # nothing started


def test_invalid_application_never_reaches_the_backend(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a", "b"), step("b", "a")])
    with pytest.raises(WorkflowValidationError, match="dependency cycle"):
        sf.run(app)
    assert order(app.folder) == [] and list_runs(app.folder) == []


def test_resume_errors(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a")])
    with pytest.raises(RunNotFoundError, match="no failed or interrupted run"):
        sf.resume(app)
    with pytest.raises(RunNotFoundError, match=r"No run 'bogus'.*this application has no runs yet"):
        sf.resume(app, "bogus")


def test_resume_a_failed_run(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"fail": True}), step("c", "b")])
    first = sf.run(app, check=False)
    assert first.status == "failed"
    spec = (app.folder / "scanflow.yaml").read_text().replace("fail: true", "fail: false")
    (app.folder / "scanflow.yaml").write_text(spec)
    resumed = sf.resume(load(app.folder))
    assert resumed.run_id == first.run_id and resumed.ok
    assert order(app.folder) == ["a", "b", "b", "c"]
    runs = client_for(app.folder).search_runs([first.state.experiment_id], f"tags.`scanflow.run_id` = '{first.run_id}'")
    statuses = sorted((r.info.run_name, r.info.status) for r in runs)
    assert statuses == [
        ("a", "FINISHED"),
        ("b", "FAILED"),
        ("b", "FINISHED"),
        ("c", "FINISHED"),
        (f"main {first.run_id}", "FINISHED"),
    ]


SLOW_UNTIL_RESUMED = """
import os, sys, time
with open("out/order.txt", "a") as fh:
    fh.write(os.environ["SCANFLOW_NODE"] + "\\n")
with open("out/b.pid", "w") as fh:
    fh.write(str(os.getpid()))
if not os.path.exists("resumed"):
    time.sleep(120)
"""


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(make_app: Callable[..., Any]) -> None:
    app = make_app(
        [step("a"), {"name": "b", "script": "slow.py", "depends_on": ["a"]}, step("c", "b")],
        files={"slow.py": SLOW_UNTIL_RESUMED},
    )
    folder = app.folder
    driver = subprocess.Popen(
        [sys.executable, "-m", "scanflow_jupyter.cli", "run", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    state: RunState | None = None
    while time.time() < deadline:
        runs = list_runs(folder)
        b = runs[0].nodes.get("b") if runs else None
        # Recorded as running with its process, and started (a step starts only once its process is on disk).
        if b and b.state == "running" and b.pid and (folder / "out" / "b.pid").exists():
            state = runs[0]
            break
        time.sleep(0.1)
    assert state is not None, "the run never reached step b"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    orphan = int((folder / "out" / "b.pid").read_text())

    (folder / "resumed").write_text("")
    result = sf.resume(load(folder))
    assert result.ok and result.run_id == state.run_id
    assert order(folder) == ["a", "b", "b", "c"]  # a was not run again
    with pytest.raises(ProcessLookupError):
        os.kill(orphan, 0)  # the killed attempt's step did not outlive the resume
    runs = client_for(folder).search_runs([result.state.experiment_id], f"tags.`scanflow.run_id` = '{state.run_id}'")
    assert not [r for r in runs if r.info.status == "RUNNING"]
    statuses = sorted((r.info.run_name, r.info.status) for r in runs)
    assert ("b", "KILLED") in statuses and ("b", "FINISHED") in statuses
    assert (f"main {state.run_id}", "FINISHED") in statuses


def test_status_notices_a_dead_driver(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a")])
    state = RunState("20990101-000000-aaaaaa", "demo", str(app.folder), "main", pid=2**22 + 12345)
    state.nodes["a"] = NodeRecord(state="running")
    state.save()
    seen = status(app, state.run_id)
    assert seen.status == "interrupted"
    assert seen.nodes["a"].state == "cancelled"


@pytest.mark.slow
def test_isolated_executor_runs_in_its_own_venv(make_app: Callable[..., Any]) -> None:
    code = "import sys; open('prefix.txt', 'w').write(sys.prefix)\n"
    app = make_app(
        [
            {"name": "iso", "script": "iso.py", "isolated": True, "requirements": []},
            {
                "name": "iso2",
                "script": "iso.py",
                "isolated": True,
                "requirements": [],
                "depends_on": ["iso"],
                "parameters": {"n": 1},
            },
        ],
        files={"iso.py": code + "import argparse; argparse.ArgumentParser().parse_known_args()\n"},
    )
    sf.run(app, tracking=False)
    prefix = (app.folder / "prefix.txt").read_text()
    assert prefix.startswith(str(app.folder / ".scanflow" / "venvs"))
    assert len(list((app.folder / ".scanflow" / "venvs").glob("*/.complete"))) == 1  # built once


def test_example_is_in_the_repo() -> None:
    assert (ROOT / "examples" / "tabular" / "scanflow.yaml").is_file()


@pytest.mark.slow
def test_ctrl_c_cancels_the_run_and_stops_its_steps(make_app: Callable[..., Any]) -> None:
    app = make_app(
        [step("a"), {"name": "b", "script": "slow.py", "depends_on": ["a"]}, step("c", "b")],
        files={"slow.py": SLOW_UNTIL_RESUMED},
    )
    folder = app.folder
    driver = subprocess.Popen(
        [sys.executable, "-m", "scanflow_jupyter.cli", "run", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As from a terminal: a suite started in the background (`make test &`) ignores SIGINT, and a child
        # inherits that, so Ctrl-C would never reach the driver.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60  # until the driver has recorded b's process (the state on disk says so)
    while time.time() < deadline and not (
        (folder / "out" / "b.pid").exists() and (runs := list_runs(folder)) and runs[0].nodes["b"].pid
    ):
        time.sleep(0.1)
    driver.send_signal(signal.SIGINT)
    output, _ = driver.communicate(timeout=60)
    assert driver.returncode == 130, output
    assert "resume it with: scanflow resume" in output
    step_pid = int((folder / "out" / "b.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(step_pid, 0)
    state = list_runs(folder)[0]
    assert state.status == "cancelled"
    assert {a: r.state for a, r in state.nodes.items()} == {"a": "succeeded", "b": "cancelled", "c": "cancelled"}
    runs = client_for(folder).search_runs([state.experiment_id], f"tags.`scanflow.run_id` = '{state.run_id}'")
    assert sorted((r.info.run_name, r.info.status) for r in runs) == [
        ("a", "FINISHED"),
        ("b", "KILLED"),
        (f"main {state.run_id}", "KILLED"),
    ]
