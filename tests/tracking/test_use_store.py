"""``use_store``: MLflow's own API logs into an application's store, artifacts in the application folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.tracking.store import use_store


@pytest.fixture
def restore_mlflow() -> Iterator[None]:
    import mlflow
    from mlflow.tracking import fluent

    yield
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # back to the default (and unset the variable)
    fluent._active_experiment_id = None


def test_use_store_sets_the_store_and_an_experiment_in_the_app_folder(
    make_app: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_mlflow: None
) -> None:
    import mlflow

    app = make_app([{"name": "a", "script": "step.py"}])
    monkeypatch.chdir(tmp_path)  # MLflow alone would put artifacts in ./mlruns here
    config = use_store(app, "detectors")
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "note.txt")
    assert mlflow.get_tracking_uri() == config.uri and config.uri.endswith(".scanflow/mlflow.db")
    client = mlflow.MlflowClient(config.uri)
    experiment = client.get_experiment_by_name("detectors")
    assert experiment is not None and experiment.experiment_id == run.info.experiment_id
    assert Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="note.txt")).read_text() == (
        "hello"
    )
    assert (app.folder / ".scanflow" / "artifacts").is_dir() and not (tmp_path / "mlruns").exists()
    # Again: the experiment is reused, not created twice.
    assert use_store(app, "detectors") == config
