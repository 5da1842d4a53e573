"""Every retrain of a labeling session as an MLflow model version, and its learning curve as MLflow metrics.

A session that names a registered model gets one MLflow run of its own (kind ``labeling``, found again by its tags
when the session is reopened after a kernel restart) holding the learning curve (``accuracy`` and
``control_accuracy`` with the number of labels as the step), and under it one nested run per retrain holding the
fitted model, registered as the next version of that model, with the labels it saw.

The runs are written with MLflow's client in the session's retrain thread: labeling never waits for MLflow. They go
to the tracking URI that was current when the session started (``use_store(app)`` or ``mlflow.set_tracking_uri``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ModelVersions", "RetrainRecord", "modal_fit"]

log = logging.getLogger(__name__)

SESSION_TAG = "scanflow.labeling_session"
LOCAL_EXPERIMENT = "labeling"  # on a SQLite store without a current experiment: artifacts beside the database
KIND_TAG = "scanflow.kind"


@dataclass(frozen=True)
class RetrainRecord:
    """What one retrain logged: its MLflow run and the model version it registered."""

    version: int
    run_id: str
    model_version: str | None


class ModelVersions:
    """Logs a session's retrains into MLflow as versions of ``registered_model`` (see the module's text)."""

    def __init__(self, session: str, registered_model: str, *, tracking_uri: str | None = None) -> None:
        import mlflow

        self.session = session
        self.registered_model = registered_model
        self.tracking_uri = tracking_uri or mlflow.get_tracking_uri()
        # The current experiment, read without reaching the store (the session opens even when MLflow is down);
        # checked against the store at the first retrain, in the retrain thread.
        fluent = mlflow.tracking.fluent
        self._wanted: str | None = fluent._active_experiment_id or os.environ.get("MLFLOW_EXPERIMENT_ID")
        self._client: Any = None
        self._experiment: str | None = None
        self._parent: str | None = None
        self.records: list[RetrainRecord] = []

    @property
    def client(self) -> Any:
        """MLflow's client for the store (made at the first retrain: a SQL store connects when it is made)."""
        if self._client is None:
            import mlflow

            from ..tracking.store import StoreConfig, check_reachable

            check_reachable(StoreConfig(self.tracking_uri, "", None))  # a server that is down fails in seconds
            self._client = mlflow.MlflowClient(self.tracking_uri)
        return self._client

    @property
    def experiment_id(self) -> str:
        """Resolved at the first retrain, in the retrain thread (it may reach the store)."""
        if self._experiment is None:
            self._experiment = _experiment_id(self.client, self._wanted, self.tracking_uri)
        return self._experiment

    @property
    def parent_run_id(self) -> str:
        """The session's MLflow run (created at the first retrain, or found again when the session reopens)."""
        if self._parent is None:
            found = self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.`{SESSION_TAG}` = '{_quoted(self.session)}' and tags.`{KIND_TAG}` = 'labeling'",
                max_results=1,
            )
            if found:
                self._parent = found[0].info.run_id
            else:
                run = self.client.create_run(
                    self.experiment_id,
                    run_name=f"labeling {self.session}",
                    tags={SESSION_TAG: self.session, KIND_TAG: "labeling", "scanflow.model": self.registered_model},
                )
                self._parent = run.info.run_id
        return self._parent

    def log(
        self,
        version: int,
        model: Any,
        *,
        labels: int,
        ranker: str,
        accuracy: float | None,
        control_accuracy: float | None,
        control_labels: int | None,
    ) -> RetrainRecord:
        """Log retrain ``version``: the curve's points on the session run, the model as a registered version."""
        import mlflow

        parent = self.parent_run_id
        if accuracy is not None:
            self.client.log_metric(parent, "accuracy", accuracy, step=labels)
        if control_accuracy is not None and control_labels is not None:
            self.client.log_metric(parent, "control_accuracy", control_accuracy, step=control_labels)
        self.client.log_metric(parent, "labels", labels, step=version)
        child = self.client.create_run(
            self.experiment_id,
            run_name=f"{self.session} v{version}",
            tags={
                "mlflow.parentRunId": parent,
                SESSION_TAG: self.session,
                KIND_TAG: "labeling-retrain",
                "scanflow.session_version": str(version),
            },
        )
        run_id = child.info.run_id
        self.client.log_batch(
            run_id,
            params=[
                mlflow.entities.Param("labels", str(labels)),
                mlflow.entities.Param("ranker", ranker),
                mlflow.entities.Param("model_class", type(model).__name__),
            ],
            metrics=[] if accuracy is None else [mlflow.entities.Metric("accuracy", accuracy, _now_ms(), labels)],
        )
        model_version = None
        estimator, serialization = _servable(model)
        try:
            with _in_run(run_id, self.tracking_uri, self.experiment_id):
                info = mlflow.sklearn.log_model(
                    estimator,
                    name="model",
                    registered_model_name=self.registered_model,
                    pip_requirements=_requirements(),
                    serialization_format=serialization,
                    await_registration_for=0,
                )
            if info.registered_model_version is not None:
                model_version = str(info.registered_model_version)
                self.client.set_model_version_tag(self.registered_model, model_version, SESSION_TAG, self.session)
                self.client.set_model_version_tag(self.registered_model, model_version, "labels", str(labels))
            self.client.set_terminated(run_id, "FINISHED")
        except Exception:
            self.client.set_terminated(run_id, "FAILED")
            raise
        record = RetrainRecord(version, run_id, model_version)
        self.records.append(record)
        return record


@contextmanager
def _in_run(run_id: str, uri: str, experiment_id: str) -> Iterator[None]:
    """Make ``run_id`` MLflow's active run in this thread (the retrain thread; MLflow keeps active runs per
    thread), at ``uri``, for ``log_model``."""
    import mlflow

    if mlflow.get_tracking_uri() != uri:
        mlflow.set_tracking_uri(uri)
    mlflow.start_run(run_id=run_id, experiment_id=experiment_id)
    try:
        yield
    finally:
        mlflow.end_run()


def modal_fit(model: Any, x: Any, y: Any) -> Any:
    """A session's ``fit=`` that trains through modAL's ActiveLearner (a clone of ``model`` inside); the learner
    predicts and gives probabilities like the estimator, so every ranker works with it."""
    from modAL.models import ActiveLearner
    from sklearn.base import clone

    return ActiveLearner(estimator=clone(model), X_training=x, y_training=y)


def _servable(model: Any) -> tuple[Any, str | None]:
    """What to register for ``model``: a modAL learner's estimator (what serves predictions), serialised the
    scikit-learn way when it is a scikit-learn estimator, else with cloudpickle (a Keras wrapper, say)."""
    from sklearn.base import BaseEstimator

    estimator = model.estimator if type(model).__module__.startswith("modAL.") else model
    if isinstance(estimator, BaseEstimator) and type(estimator).__module__.startswith("sklearn."):
        return estimator, None
    return estimator, "cloudpickle"


def _experiment_id(client: Any, active: str | None, tracking_uri: str) -> str:
    """MLflow's current experiment when it lives in ``client``'s store. Otherwise (the current one may belong to
    another store that was current before, or there is none): on a SQLite store, the experiment ``labeling`` with its
    artifacts beside the database file (MLflow's Default experiment keeps them in ``./mlruns`` of whatever folder
    the store was first opened from: a notebook's folder); on a tracking server, its Default experiment."""
    from mlflow.exceptions import MlflowException

    if active:
        try:
            experiment = client.get_experiment(active)
            if experiment.lifecycle_stage == "active":
                return str(active)
        except MlflowException:
            pass
    if tracking_uri.startswith("sqlite:///"):
        found = client.get_experiment_by_name(LOCAL_EXPERIMENT)
        if found is not None:
            return str(found.experiment_id)
        database = Path(tracking_uri.removeprefix("sqlite:///"))
        artifacts = (database.parent / "artifacts" / LOCAL_EXPERIMENT).resolve().as_uri()
        try:
            return str(client.create_experiment(LOCAL_EXPERIMENT, artifact_location=artifacts))
        except MlflowException:  # another session created it a moment ago
            return str(client.get_experiment_by_name(LOCAL_EXPERIMENT).experiment_id)
    default = client.get_experiment_by_name("Default")
    return str(default.experiment_id) if default else str(client.create_experiment("Default"))


def _quoted(text: str) -> str:
    return text.replace("'", "\\'")


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"scikit-learn=={version('scikit-learn')}", f"cloudpickle=={version('cloudpickle')}"]


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
