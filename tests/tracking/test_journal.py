"""The tracking journal: when a run takes it, that what it appends is durable and ordered, and that the run tree
the drainer writes into MLflow is, field by field, the one MLflow's own client writes through the writer process
(runs, names, statuses, tags, params, metrics with their steps and timestamps, artifacts, parent links)."""

from __future__ import annotations

import os
import sqlite3
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import scanflow_jupyter as sf
from scanflow_jupyter.engine.state import RunState
from scanflow_jupyter.tracking import JournalRecorder, RunRecorder, open_recorder, resolve
from scanflow_jupyter.tracking import journaled as journaled_module
from scanflow_jupyter.tracking.journal import (
    DRAINER_LOCK,
    Journal,
    drainer_alive,
    has_pending,
    journal_path,
    journaled_experiment,
    settle,
    try_lock,
)

LOGS_ITSELF = textwrap.dedent(
    """
    import os, sys
    import mlflow
    expected = os.environ["MLFLOW_RUN_ID"]  # MLflow takes it out of the environment
    with mlflow.start_run() as run:
        assert run.info.run_id == expected
        mlflow.log_param("lr", "0.1")
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1700000000000 + step)
        mlflow.set_tag("own", "yes")
        mlflow.log_text("hello", "notes/hello.txt")
    print("logged")
    """
)
NODES: list[dict[str, Any]] = [
    {"name": "prep", "script": "step.py", "parameters": {"rows": 5}},
    {"name": "train", "script": "train.py", "depends_on": ["prep"]},
    {
        "name": "models",
        "depends_on": ["train"],
        "nodes": [{"name": "a", "script": "step.py"}, {"name": "b", "script": "step.py", "parameters": {"k": 2}}],
    },
]


@pytest.fixture
def detached() -> Iterator[None]:
    journaled_module.detach()
    yield
    journaled_module.detach(False)


def _create_experiment(app: Any) -> None:
    from mlflow.tracking import MlflowClient

    config = resolve(app)
    MlflowClient(config.uri).create_experiment(config.experiment, artifact_location=config.artifact_root)


def test_a_run_takes_the_journal_only_when_detached_and_the_store_can_take_it(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app([{"name": "a", "script": "step.py"}])
    config = resolve(app)
    assert journaled_experiment(config) is None  # no experiment yet: MLflow creates it, once
    _create_experiment(app)
    assert journaled_experiment(config) is not None
    for attached in (open_recorder(config), open_recorder(config, journal=False)):
        assert isinstance(attached, RunRecorder)
        attached.close()
    journaled_module.detach()
    try:
        taken = open_recorder(config)
        assert isinstance(taken, JournalRecorder) and taken.path == journal_path(config)
        taken.close()
        monkeypatch.setenv("SCANFLOW_TRACKING_JOURNAL", "0")
        refused = open_recorder(config)
        assert isinstance(refused, RunRecorder)
        refused.close()
    finally:
        journaled_module.detach(False)
    with sqlite3.connect(config.sqlite_path) as conn:  # type: ignore[arg-type]
        conn.execute("UPDATE alembic_version SET version_num = 'not-a-tested-one'")
    assert journaled_experiment(config) is None  # a schema this code was not tested against: MLflow's client


def test_appends_are_ordered_durable_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db.journal"
    journal = Journal(path)
    assert journal.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: each commit fsync'd
    first = journal.append([("create_run", {"run_id": "r1"}), ("log_graph", {"run_id": "r1", "graph": {}})])
    journal.append([("close_run", {"run_id": "r1", "state": "succeeded", "end_time": 1})])
    journal.close()
    again = Journal(path)  # what another process reads
    assert [op for _, op, _ in again.pending()] == ["create_run", "log_graph", "close_run"]
    assert has_pending(path) and not again.done_through(first)
    for seq, _, _ in again.pending(2):
        again.mark_done(seq)
    assert again.done_through(first) and has_pending(path)
    again.mark_failed(first + 1, "RuntimeError: refused")
    assert not has_pending(path) and again.failures() == [(first + 1, "close_run", "RuntimeError: refused")]
    again.compact()
    assert again.conn.execute("SELECT COUNT(*) FROM writes").fetchone()[0] == 1  # the refused one is kept
    again.close()


def test_one_drainer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db.journal"
    held = try_lock(path, DRAINER_LOCK)
    assert held is not None and drainer_alive(path) and try_lock(path, DRAINER_LOCK) is None
    os.close(held)
    assert not drainer_alive(path)


def _tree(folder: Path, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """One scanflow run's MLflow runs, keyed by (kind, node), every field with ids replaced by the (kind, node)
    they stand for, timestamps checked against the run's own record, and the artifacts' paths and contents."""
    from mlflow.tracking import MlflowClient

    state = RunState.load(folder, run_id)
    client = MlflowClient(f"sqlite:///{folder / '.scanflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("demo")
    runs = client.search_runs([experiment.experiment_id], f"tags.`scanflow.run_id` = '{run_id}'")
    key_of = {r.info.run_id: (r.data.tags["scanflow.kind"], r.data.tags.get("scanflow.node", "")) for r in runs}
    tree: dict[tuple[str, str], dict[str, Any]] = {}
    for r in runs:
        key = key_of[r.info.run_id]
        assert r.info.start_time and r.info.end_time and r.info.start_time <= r.info.end_time, key
        assert state.created * 1000 - 1000 <= r.info.start_time <= state.updated * 1000 + 1000, key
        history = {
            k: [(m.value, m.step, m.timestamp) for m in client.get_metric_history(r.info.run_id, k)]
            for k in r.data.metrics
        }
        record = state.nodes.get(key[1])
        for k in ("scanflow.duration_s", "scanflow.exit_code"):
            if k in history and record is not None and record.state == "cached":  # copied from the run reused
                source = client.get_metric_history(r.data.tags["scanflow.cached_from"], k)
                assert history[k] == [(m.value, m.step, m.timestamp) for m in source], (key, k)
                history[k] = [("as the run reused", 0, "copied")]
            elif k in history and record is not None:
                # the engine's own metrics carry the step's end, as recorded in its state
                recorded = record.duration if k == "scanflow.duration_s" else record.exit_code
                finished = int(record.finished * 1000)  # type: ignore[operator]
                assert history[k] == [(recorded, 0, finished)], (key, k)
                history[k] = [("as recorded", 0, "at the step's end")]
        tags = dict(r.data.tags)
        for k in ("scanflow.run_id", "scanflow.cache_key", "scanflow.cached_from_run_id"):
            tags.pop(k, None)
        for k in ("mlflow.parentRunId", "scanflow.cached_from"):
            if tags.get(k):
                tags[k] = key_of.get(tags[k], "another run")  # type: ignore[assignment]
        tags.pop("mlflow.runName")
        artifacts = {}
        root = Path(r.info.artifact_uri.removeprefix("file://"))
        for f in sorted(root.rglob("*")) if root.exists() else []:
            if f.is_file():
                text = f.read_text()
                artifacts[str(f.relative_to(root))] = text if "graph" in f.name or "stdout" in f.name else len(text)
        tree[key] = {
            "name": r.info.run_name.replace(run_id, "RUN"),
            "status": r.info.status,
            "lifecycle": r.info.lifecycle_stage,
            "tags": tags,
            "params": dict(r.data.params),
            "metrics": history,
            "artifacts": artifacts,
        }
    return tree


@pytest.mark.slow
def test_the_drained_run_tree_is_the_one_mlflows_client_writes(
    make_app: Callable[..., Any], tmp_path: Path, detached: None
) -> None:
    trees = []
    for name, journal in (("client", False), ("journal", True)):
        app = make_app(NODES, files={"train.py": LOGS_ITSELF}, folder=tmp_path / name)
        _create_experiment(app)
        os.environ["SCANFLOW_TRACKING_JOURNAL"] = "1" if journal else "0"
        try:
            first = sf.run(app, workers=2)
            second = sf.run(app)  # every step reused from the cache: cached runs with the metrics they stand for
        finally:
            del os.environ["SCANFLOW_TRACKING_JOURNAL"]
        assert first.ok and second.ok
        path = journal_path(resolve(app))
        assert path is not None and path.exists() == journal
        settle(resolve(app))
        assert not has_pending(path)
        trees.append([_tree(app.folder, result.run_id) for result in (first, second)])
    (client_first, client_second), (journal_first, journal_second) = trees
    assert set(journal_first) == {("run", ""), ("step", "prep"), ("step", "train"), ("workflow", "models")} | {
        ("step", "models/a"),
        ("step", "models/b"),
    }
    assert journal_first["step", "train"]["metrics"]["loss"] == [
        (1.0, 0, 1700000000000),
        (0.5, 1, 1700000000001),
        (1 / 3, 2, 1700000000002),
    ]
    assert journal_first["step", "train"]["artifacts"]["notes/hello.txt"] == 5
    assert journal_second["step", "train"]["tags"]["scanflow.state"] == "cached"
    for key in client_first:
        assert journal_first[key] == client_first[key], key
    assert journal_first == client_first
    assert journal_second == client_second
