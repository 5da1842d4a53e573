"""SQLite stores under folders whose names mean something in a URI (``#``, ``?``, ``%``, a space).

A store under ``a#b`` was read through ``file:/.../a#b/mlflow.db?mode=ro``, which SQLite reads as the file ``a``
(the rest a fragment): the run browser opened an empty database there, or fell back to MLflow's slow search.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scanflow_jupyter as sf
from scanflow_jupyter.tracking import RunQuery, RunStore, resolve
from scanflow_jupyter.tracking.store import default_uri, sqlite_file_uri, sqlite_path, sqlite_uri

NAMES = ["a#b", "a?b", "a%b", "a b", "a%23b"]


@pytest.mark.parametrize("name", NAMES)
def test_uris_of_a_path_round_trip(tmp_path: Path, name: str) -> None:
    db = tmp_path / name / "mlflow.db"
    assert sqlite_path(sqlite_uri(db)) == db
    assert sqlite_path(default_uri(tmp_path / name)) == (tmp_path / name / ".scanflow" / "mlflow.db").resolve()
    db.parent.mkdir()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x)")
    with sqlite3.connect(sqlite_file_uri(db, mode="ro"), uri=True) as conn:  # the file itself, read-only
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO t VALUES (1)")
    assert sqlite_uri("/data/plain/mlflow.db") == "sqlite:////data/plain/mlflow.db"  # ordinary paths unchanged


@pytest.mark.parametrize("name", NAMES)
def test_the_run_browser_reads_the_store_under_the_folder(tmp_path: Path, mlflow_template: Path, name: str) -> None:
    from mlflow.tracking import MlflowClient

    decoy = tmp_path / "a"  # where a path cut at '#' or '?' lands: an MLflow store with no runs
    shutil.copy(mlflow_template, decoy)
    folder = tmp_path / name
    db = folder / ".scanflow" / "mlflow.db"
    db.parent.mkdir(parents=True)
    shutil.copy(mlflow_template, db)
    uri = default_uri(folder)
    client = MlflowClient(uri)
    exp = client.create_experiment("paths", artifact_location=(folder / ".scanflow" / "artifacts").as_uri())
    run = client.create_run(exp, run_name="here")
    client.log_text(run.info.run_id, "hello", "note.txt")
    client.set_terminated(run.info.run_id)
    store = RunStore(uri)
    assert store.backend == "sql"  # read directly, not through the fallback
    assert [e["name"] for e in store.experiments()] == ["Default", "paths"]
    rows = store.search(RunQuery(experiment_ids=(exp,))).rows
    assert [r["run_name"] for r in rows] == ["here"]
    assert store.count(RunQuery(experiment_ids=(exp,))) == 1
    assert store.preview(run.info.run_id, "note.txt")["text"] == "hello"
    assert list((folder / ".scanflow" / "artifacts").rglob("note.txt"))  # the artifacts are in the folder too
    with sqlite3.connect(decoy) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'scanflow%'")}
    assert names == set()  # the sort indexes went into the store, not the decoy
    store.close()


def test_a_tracked_run_in_such_a_folder(make_app: Callable[..., Any], tmp_path: Path, mlflow_template: Path) -> None:
    """The whole path: the engine's writer process, the recorder and the run browser, one store."""
    shutil.copy(mlflow_template, tmp_path / "a")
    app = make_app([{"name": "one", "script": "step.py"}], folder=tmp_path / "a#b?c%d e")
    assert sf.run(app).ok
    config = resolve(app)
    assert config.sqlite_path == app.folder.resolve() / ".scanflow" / "mlflow.db"
    store = RunStore(config.uri)
    assert store.backend == "sql"
    exp = store.experiment_id("demo")
    assert exp is not None
    rows = store.search(RunQuery(experiment_ids=(exp,), order_by=("attributes.run_name ASC",))).rows
    assert sorted(r["node"] for r in rows) == ["", "one"]
    store.close()
