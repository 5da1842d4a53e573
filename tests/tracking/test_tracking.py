"""Where runs are tracked, and what happens when the store is not there."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scanflow_jupyter as sf
from scanflow_jupyter.engine import list_runs
from scanflow_jupyter.errors import TrackingError
from scanflow_jupyter.tracking import resolve
from scanflow_jupyter.tracking.store import default_uri, prepare_sqlite
from scanflow_jupyter.workflow import Application, Tracker


def test_default_store_is_sqlite_in_the_app_folder(tmp_path: Path) -> None:
    app = Application(name="demo")
    app.folder = tmp_path
    config = resolve(app)
    assert config.uri == default_uri(tmp_path) == f"sqlite:///{tmp_path / '.scanflow' / 'mlflow.db'}"
    assert config.experiment == "demo"
    assert config.artifact_root == (tmp_path / ".scanflow" / "artifacts").as_uri()


def test_environment_and_tracker_setting_take_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = Application(name="demo")
    app.folder = tmp_path
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve(app).uri == "http://127.0.0.1:5000"
    assert resolve(app).artifact_root is None  # the server decides
    app.tracker = Tracker(uri="sqlite:////tmp/elsewhere.db", experiment="exp")
    assert resolve(app).uri == "sqlite:////tmp/elsewhere.db" and resolve(app).experiment == "exp"


def test_store_is_created_in_wal_mode(tmp_path: Path) -> None:
    app = Application(name="demo")
    app.folder = tmp_path
    prepare_sqlite(resolve(app))
    with sqlite3.connect(tmp_path / ".scanflow" / "mlflow.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_fails_fast_with_the_fix(make_app: Callable[..., Any]) -> None:
    from scanflow_jupyter.tracking.recorder import _writers

    app = make_app([{"name": "a", "script": "step.py"}])
    app.tracker = Tracker(uri=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(TrackingError, match=r"Cannot reach the MLflow tracking server .*Start it"):
        sf.run(app)
    # Refused by one connection attempt, before any MLflow client (whose HTTP retries take minutes) existed.
    assert app.tracker.uri not in _writers
    assert list_runs(app.folder) == []  # nothing ran untracked by accident
    assert sf.run(app, tracking=False).ok  # and the run works without tracking


def test_unusable_store_is_a_tracking_error(make_app: Callable[..., Any], tmp_path: Path) -> None:
    app = make_app([{"name": "a", "script": "step.py"}])
    (tmp_path / "not-a-db").write_text("this is not sqlite")
    app.tracker = Tracker(uri=f"sqlite:///{tmp_path / 'not-a-db'}")
    with pytest.raises(TrackingError, match=r"not-a-db"):
        sf.run(app)


def test_prewarm_leaves_a_warm_writer_for_the_first_run(make_app: Callable[..., Any]) -> None:
    from scanflow_jupyter.tracking import prewarm
    from scanflow_jupyter.tracking.recorder import _writers

    app = make_app([{"name": "a", "script": "step.py"}])
    config = resolve(app)
    prewarm(config).join(60)
    writer = _writers[config.uri]
    assert writer.alive and writer.users == 0
    assert sf.run(app).ok
    assert _writers[config.uri] is writer  # the run used the warm writer
