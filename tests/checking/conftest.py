"""Fixtures for the checker tests: a real MLflow SQLite store as the current one (``digits``, ``fitted`` and
``TINY`` are in tests/conftest.py, shared with the notebook tests)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def store(tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh MLflow SQLite store in tmp_path (tracking and registry), artifacts beside it, as the current store."""
    import mlflow
    from mlflow.tracking import fluent

    db = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template, db)
    uri = f"sqlite:///{db}"
    experiment = mlflow.MlflowClient(uri).create_experiment("checks", (tmp_path / "artifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
    try:
        yield uri
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # back to the default (and unset the variable)
        fluent._active_experiment_id = None
