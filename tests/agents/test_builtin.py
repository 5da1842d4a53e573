"""The built-in agents on a real MLflow store: the checker checks new batches with a registered detector and queues
what it flags, the planner scores versions on the same data and moves the alias, the tracker notifies."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scanflow_jupyter.active import LabelingSession, LabelStore
from scanflow_jupyter.agents import Checker, Planner, Tracker
from scanflow_jupyter.checking import load_batch
from scanflow_jupyter.tracking.store import use_store

from .conftest import experiment_runs, inject_drift

Digits = tuple[np.ndarray, np.ndarray]


def _reset_mlflow() -> None:
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def _batch(folder: Path, name: str, x: np.ndarray, rows: np.ndarray, age: float) -> None:
    path = folder / "work" / "incoming" / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x[rows], ids=np.array([f"{name}-{r}" for r in rows]))
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))  # the order batches arrived in


def test_checker_checks_new_batches_and_queues_what_it_flags(
    app: Any, client: Any, fitted: Any, digits: Digits, tmp_path: Path
) -> None:
    x, y = digits
    use_store(app, "detectors")
    try:
        uri = fitted.log_model(registered_model_name="digits-checker").registered_uri
    finally:
        _reset_mlflow()
    normal, zeros = np.flatnonzero(y != 0), np.flatnonzero(y == 0)
    _batch(app.folder, "b1-clean", x, normal[900:1100], age=20)
    _batch(app.folder, "b2-zeros", x, np.r_[normal[1100:1220], zeros[:80]], age=10)
    options = {"pool": "work/labeling/pool.npz", "session": "digits", "classes": range(10), "limit": 50}

    checker = Checker(app, detector=uri, batches="work/incoming", **options)
    assert checker.tick() == []  # the clean batch: checked, no drift
    assert checker.readings["batch"].summary.startswith("work/incoming/b1-clean.npz: no drift, p = ")
    [decision] = checker.tick()
    assert decision.rule == "drift" and decision.ok, decision.error
    assert decision.reasons[0].startswith("batch work/incoming/b2-zeros.npz drifted: p = ")
    queued = decision.result("queue")
    assert queued["flagged"] == queued["queued"] == queued["pool_size"] == 50
    assert checker.tick() == []  # nothing new

    pool = load_batch(app.folder / "work" / "labeling" / "pool.npz")
    assert sum(y[int(i.split("-")[-1])] == 0 for i in pool.ids) >= 35  # most of what it flags is the new class
    labels = LabelStore(app.folder / ".scanflow" / "labels.db")
    flagged = [sample_id for sample_id, _ in decision.values["batch"]["flagged"]]
    assert [q[0] for q in labels.queued("digits")] == flagged
    session = LabelingSession(pool.x, None, classes=range(10), ids=pool.ids, name="digits",
                              store=labels, ranker="random", retrain_every=0)  # fmt: skip
    assert {s.source for s in session.next_batch()} == {"flagged"}  # they come first in the labeling grid

    checks = experiment_runs(client, "loop", "tags.`scanflow.check` = 'true'")
    assert sorted(r.data.metrics["drift.detected"] for r in checks) == [0.0, 1.0]
    assert {r.data.params["check.agent"] for r in checks} == {"checker"}
    assert decision.values["batch"]["check_run_id"] in {r.info.run_id for r in checks}

    restarted = Checker(app, detector=uri, batches="work/incoming", **options)  # it remembers the batches it saw
    assert restarted.tick() == [] and len(experiment_runs(client, "loop", "tags.`scanflow.check` = 'true'")) == 2


def _register(app: Any, model: Any, tags: dict[str, str] | None = None) -> str:
    """Register ``model`` as the next version of ``clf``, logged in a run tagged as one of ``app``'s (a step run
    of its workflows carries ``scanflow.app``) unless ``tags`` say otherwise."""
    import mlflow

    use_store(app, "models")
    try:
        with mlflow.start_run(tags={"scanflow.app": app.name} if tags is None else tags):
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name="clf", serialization_format="cloudpickle",
                pip_requirements=["scikit-learn"],
            )  # fmt: skip
    finally:
        _reset_mlflow()
    return str(info.registered_model_version)


def test_planner_compares_on_the_same_data_and_moves_the_alias(app: Any, client: Any) -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 1, (60, 2)), rng.normal(2, 1, (60, 2))]
    y = np.r_[np.zeros(60, int), np.ones(60, int)]
    np.savez(app.folder / "eval.npz", x=x, y=y)
    planner = Planner(app, model="clf", evaluation=["eval.npz", "later.npz"], interval=0.05)
    assert planner.tick() == []  # nothing registered yet

    _register(app, DummyClassifier(strategy="constant", constant=0).fit(x, y))
    [first] = planner.tick()
    assert first.rule == "promote" and first.ok, first.error
    assert first.reasons[0] == "no version of 'clf' holds 'production' yet: v1 is the first candidate"
    assert first.values["scores"]["missing"] == ["later.npz"]  # not there yet: scored on the others

    _register(app, LogisticRegression().fit(x, y))
    [second] = planner.tick()
    assert (second.rule, second.result("promote")) == ("promote", {"model": "clf", "alias": "production",
                                                                   "version": "2", "previous": "1"})  # fmt: skip
    assert second.reasons[0].startswith("candidate v2 scores 1.000 against production v1's 0.500 on eval.npz")

    _register(app, DummyClassifier(strategy="constant", constant=1).fit(x, y))
    [third] = planner.tick()
    assert third.rule == "keep" and third.reasons[1] == "'production' stays on v2"
    assert planner.tick() == []  # one decision per candidate

    assert {a: str(v) for a, v in client.get_registered_model("clf").aliases.items()} == {"production": "2"}
    version = client.get_model_version("clf", "2")
    assert version.tags["scanflow.promoted_by"] == "planner" and version.tags["scanflow.decision"] == second.run_id
    decisions = experiment_runs(client, "loop-agents")
    assert sorted(r.data.tags["scanflow.rule"] for r in decisions) == ["keep", "promote", "promote"]
    assert all(r.info.status == "FINISHED" for r in decisions)


def test_tracker_notifies_a_failed_run_once(app: Any, client: Any) -> None:
    seen: list[str] = []
    tracker = Tracker(app, workflow="train", notify=lambda message, decision: seen.append(message))
    import scanflow_jupyter as sf

    sf.run(app, "train", params={"fit.fail": True}, check=False)
    [decision] = tracker.tick()
    assert decision.rule == "run-failed" and decision.ok
    assert tracker.tick() == []
    assert seen[0].startswith("[tracker] run-failed: the run ") and "of workflow 'train' failed" in seen[0]
    log = (app.folder / ".scanflow" / "agents" / "notifications.log").read_text()
    assert "run-failed: the run" in log
    sf.run(app, "train")
    assert tracker.tick() == []  # a good run: nothing to say


@pytest.mark.parametrize("drifts", [1, 3])
def test_drift_runs_read_by_the_improver_are_the_checkers(app: Any, client: Any, drifts: int) -> None:
    # The improver reads what the checker records: tags.scanflow.check and metrics.drift.detected.
    from scanflow_jupyter.agents import Improver

    improver = Improver(app, session="s", record=False)
    for i in range(drifts):
        inject_drift(client, "loop", f"b{i}.npz")
    improver.tick()
    latest = improver.readings["drift"].value
    assert len(latest) == 1 and latest[0]["name"] == f"check b{drifts - 1}.npz"
