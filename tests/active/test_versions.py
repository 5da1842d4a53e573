"""Every retrain of a labeling session as an MLflow model version, its learning curve as MLflow metrics (on a real
SQLite MLflow store), and retraining through modAL's ActiveLearner."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from scanflow_jupyter.active import LabelingSession
from scanflow_jupyter.errors import LabelingError

Digits = tuple[np.ndarray, np.ndarray]


@pytest.fixture
def tracking(tmp_path: Path) -> Iterator[str]:
    before = os.environ.get("MLFLOW_TRACKING_URI")  # None: unset again afterwards
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("labeling", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    yield uri
    mlflow.set_tracking_uri(before)


def _session(digits: Digits, tmp_path: Path, **kwargs: Any) -> tuple[LabelingSession, np.ndarray]:
    x, y = digits
    options: dict[str, Any] = {
        "classes": range(10),
        "name": "digits",
        "store": tmp_path / "labels.db",
        "holdout": (x[1200:], y[1200:]),
        "annotator": "ana",
        "retrain_every": 0,
        "control_share": 0.3,
        **kwargs,
    }
    return LabelingSession(x[:600], LogisticRegression(max_iter=500), **options), y[:600]


def _label_batches(session: LabelingSession, truth: np.ndarray, batches: int) -> None:
    for _ in range(batches):
        for sample in session.next_batch():
            session.label(sample.id, int(truth[sample.index]))


def test_each_retrain_is_a_registered_model_version(digits: Digits, tmp_path: Path, tracking: str) -> None:
    session, truth = _session(digits, tmp_path, registered_model="digits-labeled")
    _label_batches(session, truth, 3)
    session.retrain(wait=True)
    _label_batches(session, truth, 3)
    session.retrain(wait=True)
    session.close()
    assert session.tracking_error is None

    client = mlflow.MlflowClient(tracking)
    versions = sorted(client.search_model_versions("name = 'digits-labeled'"), key=lambda v: int(v.version))
    assert [str(v.version) for v in versions] == ["1", "2"]
    assert [v.tags["labels"] for v in versions] == ["30", "60"]
    assert all(v.tags["scanflow.labeling_session"] == "digits" for v in versions)
    model = mlflow.sklearn.load_model("models:/digits-labeled/2")
    assert model.predict(digits[0][1200:1210]).shape == (10,)

    parent = session.versions.parent_run_id  # type: ignore[union-attr]
    curve = client.get_metric_history(parent, "accuracy")
    assert [m.step for m in curve] == [30, 60]
    assert [m.value for m in curve] == [p.accuracy for p in session.curve if p.series == "session"]
    children = client.search_runs([client.get_run(parent).info.experiment_id])
    retrains = [r for r in children if r.data.tags.get("mlflow.parentRunId") == parent]
    assert len(retrains) == 2 and {r.info.status for r in retrains} == {"FINISHED"}

    # a restarted kernel: the same session keeps its MLflow run and the next version number
    again, _ = _session(digits, tmp_path, registered_model="digits-labeled")
    again.wait()  # reopening retrains on the labels so far
    again.close()
    assert again.versions.parent_run_id == parent  # type: ignore[union-attr]
    assert len(client.search_model_versions("name = 'digits-labeled'")) == 3


def test_without_a_current_experiment_artifacts_go_beside_a_sqlite_store(
    digits: Digits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No experiment set (a notebook that only sets the tracking URI): MLflow's Default experiment would keep the
    models in ./mlruns of the notebook's folder. They go beside the database instead, in experiment ``labeling``."""
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    monkeypatch.chdir(notebook)
    before = os.environ.get("MLFLOW_TRACKING_URI")  # None: unset again afterwards
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    mlflow.set_tracking_uri(uri)
    try:
        session, truth = _session(digits, tmp_path, registered_model="digits-labeled")
        _label_batches(session, truth, 3)
        session.retrain(wait=True)
        session.close()
    finally:
        mlflow.set_tracking_uri(before)
    assert session.tracking_error is None
    assert list(notebook.iterdir()) == []  # no mlruns/ where the notebook runs
    client = mlflow.MlflowClient(uri)
    [version] = client.search_model_versions("name = 'digits-labeled'")
    assert client.get_experiment(client.get_run(version.run_id).info.experiment_id).name == "labeling"
    assert (tmp_path / "store" / "artifacts" / "labeling").is_dir()


def test_an_unreachable_tracking_store_never_stops_labeling(digits: Digits, tmp_path: Path) -> None:
    before = os.environ.get("MLFLOW_TRACKING_URI")  # None: unset again afterwards
    with socket.socket() as probe:  # a port nobody listens on: a tracking server that is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mlflow.set_tracking_uri(f"http://127.0.0.1:{port}")
    try:
        session, truth = _session(digits, tmp_path, registered_model="digits-labeled")
        _label_batches(session, truth, 3)
        point = session.retrain(wait=True).result()
        session.close()
    finally:
        mlflow.set_tracking_uri(before)
    assert point is not None and session.version == 1  # the model retrained
    assert session.tracking_error is not None and "retrain 1 was not logged to MLflow" in session.tracking_error
    assert "Cannot reach the MLflow tracking server" in session.tracking_error
    assert session.versions is None  # later retrains do not wait on a store that is down
    assert len(session.labels()) == 30


def test_retrain_through_modals_active_learner(digits: Digits, tmp_path: Path) -> None:
    from modAL.models import ActiveLearner

    session, truth = _session(digits, tmp_path, fit="modal", ranker="margin")
    _label_batches(session, truth, 3)
    point = session.retrain(wait=True).result()
    assert isinstance(session.model, ActiveLearner) and point is not None and point.accuracy > 0.5
    batch = session.next_batch()  # the margin ranker ranks with the learner's probabilities
    assert {s.source for s in batch} >= {"ranked"} and all("margin" in s.why for s in batch if s.source == "ranked")
    session.close()


def test_an_unknown_way_to_fit_is_refused(digits: Digits, tmp_path: Path) -> None:
    with pytest.raises(LabelingError, match=r"fit='sgd' is not a way to fit: pass 'modal'"):
        _session(digits, tmp_path, fit="sgd")
