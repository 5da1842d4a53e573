"""The fault suite's application and checks: a five-step application of stdlib steps (one nested workflow, two
steps side by side) driven by real ``scanflow`` processes on a real MLflow SQLite store, and the checks that say
what a fault lost.

Each step appends ``start NAME PID`` and ``end NAME PID`` to ``out/ran.txt``: its own record of having run, which
the engine's state and MLflow are checked against.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import ROOT

STEPS = ["gather", "prep", "modeling/linear", "modeling/forest", "evaluate"]

FAULT_STEP = textwrap.dedent(
    """
    import json, os, sys, time
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    name = os.environ["SCANFLOW_NODE"]
    def note(what):
        with open(os.path.join("out", "ran.txt"), "a") as fh:
            fh.write(f"{what} {name} {os.getpid()}\\n")
    note("start")
    release = args.get("--wait-for")
    deadline = time.time() + 120
    while release and not os.path.exists(release) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(float(args.get("--sleep", "0")))
    with open(os.path.join("out", name.replace("/", "__") + ".json"), "w") as fh:
        json.dump({"argv": sys.argv[1:]}, fh)
    print("done", name)
    note("end")
    """
)


def spec(sleep: float = 0.2, **extra: dict[str, Any]) -> dict[str, Any]:
    """gather -> prep -> modeling (linear, forest) -> evaluate; ``extra`` adds parameters by step name."""

    def node(name: str, *after: str) -> dict[str, Any]:
        params = {"sleep": sleep, **extra.get(name, {})}
        return {
            "name": name,
            "script": "step.py",
            "parameters": params,
            **({"depends_on": list(after)} if after else {}),
        }

    modeling = {"name": "modeling", "depends_on": ["prep"], "nodes": [node("linear"), node("forest")]}
    nodes = [node("gather"), node("prep", "gather"), modeling, node("evaluate", "modeling")]
    return {"scanflow": 1, "name": "faults", "workflows": [{"name": "pipeline", "nodes": nodes}]}


@pytest.fixture
def fault_app(tmp_path: Path, seed_store: Callable[[Path], None]) -> Callable[..., Path]:
    """Make a fresh application folder (``name``, under ``root`` or tmp_path) and return it."""

    def make(name: str = "app", root: Path | None = None, journal: bool = False, **spec_args: Any) -> Path:
        """``journal``: with the application's experiment made already, so a ``scanflow run`` takes the tracking
        journal (without it, its first run is tracked through MLflow's client, which creates the experiment)."""
        folder = (root or tmp_path) / name
        (folder / "out").mkdir(parents=True)
        (folder / "step.py").write_text(FAULT_STEP)
        (folder / "scanflow.yaml").write_text(yaml.safe_dump(spec(**spec_args), sort_keys=False))
        seed_store(folder)
        if journal:
            from mlflow.tracking import MlflowClient

            from scanflow_jupyter.tracking import resolve
            from scanflow_jupyter.workflow import load

            config = resolve(load(folder))
            MlflowClient(config.uri).create_experiment(config.experiment, artifact_location=config.artifact_root)
        return folder

    return make


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def start(*args: str, **env: str) -> subprocess.Popen[str]:
    """A ``scanflow`` command in a process of its own (its output piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "scanflow_jupyter.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(**env),
    )


def scanflow(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a ``scanflow`` command to its end; a command that hangs fails the test (it is killed at ``timeout``)."""
    proc = start(*args, **env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"scanflow {' '.join(args)} hung for {timeout} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def ran(folder: Path) -> list[tuple[str, str, int]]:
    """The steps' own record: (start|end, step, pid) lines."""
    path = folder / "out" / "ran.txt"
    lines = path.read_text().split("\n") if path.exists() else []
    return [(w, n, int(p)) for w, n, p in (line.split() for line in lines if line.strip())]


def ends(folder: Path) -> Counter[str]:
    return Counter(name for what, name, _ in ran(folder) if what == "end")


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    """Poll ``condition`` until it is true (returned), or fail saying ``what`` never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"{what} did not happen within {timeout} s")


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


# -- what MLflow holds ------------------------------------------------------------------------------------------
@dataclass
class MlflowRun:
    run_id: str
    name: str
    status: str
    tags: dict[str, str]
    metrics: dict[str, float]


def settled(folder: Path) -> None:
    """Wait until the store's tracking journal is done in MLflow (what any later command would bring about)."""
    from scanflow_jupyter.tracking.journal import settle
    from scanflow_jupyter.tracking.store import StoreConfig, sqlite_uri

    settle(StoreConfig(sqlite_uri(folder / ".scanflow" / "mlflow.db"), "faults", None), timeout=120)


def mlflow_runs(folder: Path) -> list[MlflowRun]:
    """Every run in the application's store, read straight from MLflow's tables (no MLflow import needed), once
    its tracking journal is done."""
    settled(folder)
    db = folder / ".scanflow" / "mlflow.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        runs = conn.execute("SELECT run_uuid, name, status FROM runs WHERE lifecycle_stage = 'active'").fetchall()
        tags: dict[str, dict[str, str]] = {}
        for key, value, run_id in conn.execute("SELECT key, value, run_uuid FROM tags"):
            tags.setdefault(run_id, {})[key] = value
        metrics: dict[str, dict[str, float]] = {}
        for key, value, run_id in conn.execute("SELECT key, value, run_uuid FROM latest_metrics"):
            metrics.setdefault(run_id, {})[key] = value
    return [MlflowRun(r, n, s, tags.get(r, {}), metrics.get(r, {})) for r, n, s in runs]


def artifact(folder: Path, run: MlflowRun, path: str) -> Path:
    (found,) = (folder / ".scanflow" / "artifacts").glob(f"**/{run.run_id}/artifacts/{path}")
    return found


def assert_complete(
    folder: Path, run_id: str, steps: list[str] = STEPS, groups: tuple[str, ...] = ("modeling",)
) -> None:
    """The run lost nothing: its state says every step is done, and MLflow holds its whole run tree, closed: one
    parent and one ``modeling`` run, FINISHED; for each step exactly one FINISHED run (with its duration, and its
    logs if it ran here), the runs of killed attempts closed; and no run at all left RUNNING in the store."""
    from scanflow_jupyter.engine.state import RunState

    state = RunState.load(folder, run_id)
    assert state.status == "succeeded", state
    assert {a: r.state for a, r in state.nodes.items() if r.state not in ("succeeded", "cached")} == {}
    every = mlflow_runs(folder)
    assert [(r.name, r.tags.get("scanflow.run_id")) for r in every if r.status == "RUNNING"] == []
    mine = [r for r in every if r.tags.get("scanflow.run_id") == run_id]
    kinds = Counter((r.tags.get("scanflow.kind"), r.tags.get("scanflow.node"), r.status) for r in mine)
    assert kinds[("run", None, "FINISHED")] == 1, kinds
    assert all(kinds[("workflow", group, "FINISHED")] == 1 for group in groups), kinds
    assert sum(n for (kind, _, _), n in kinds.items() if kind in ("run", "workflow")) == 1 + len(groups), kinds
    for step in steps:
        finished = [r for r in mine if r.tags.get("scanflow.node") == step and r.status == "FINISHED"]
        assert len(finished) == 1, (step, [(r.status, r.tags.get("scanflow.state")) for r in mine])
        (run,) = finished
        assert state.nodes[step].mlflow_run_id == run.run_id
        assert "scanflow.duration_s" in run.metrics, (step, run)
        if run.tags.get("scanflow.state") == "succeeded":
            assert f"done {step}" in artifact(folder, run, "logs/stdout.txt").read_text()
        group = step.rpartition("/")[0]
        parent = state.mlflow_groups[group] if group else state.mlflow_run_id
        assert run.tags["mlflow.parentRunId"] == parent
        others = {r.status for r in mine if r.tags.get("scanflow.node") == step and r is not run}
        assert others <= {"KILLED", "FAILED"}, (step, others)


def read_state(folder: Path) -> Any:
    """The newest run's state as it is on disk (no reconcile), or None if no state was written."""
    from scanflow_jupyter.engine.state import list_runs

    runs = list_runs(folder)
    return runs[0] if runs else None
