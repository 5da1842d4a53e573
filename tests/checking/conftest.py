"""Fixtures for the checker tests: digits on [0, 1], a tiny fitted detector, a real MLflow SQLite store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scanflow_jupyter.checking import AutoencoderDetector

# Tiny networks and few epochs: the tests check behaviour, benchmarks/checker_quality.py checks quality.
TINY: dict[str, Any] = {"hidden": (32,), "code_size": 8, "epochs": 40, "patience": 5, "progress": False, "seed": 0}


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    # Shuffled: the file is ordered by writer, so its first and last samples differ (a drift of their own).
    order = np.random.default_rng(0).permutation(len(x))
    return (x[order] / 16.0).astype(np.float32), y[order]


@pytest.fixture(scope="session")
def fitted(digits: tuple[np.ndarray, np.ndarray]) -> AutoencoderDetector:
    """A detector fitted on 800 samples of the digits 1-9 (0 is the novelty)."""
    x, y = digits
    return AutoencoderDetector(**TINY).fit(x[y != 0][:800])


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
