"""Promotion is earned: the planner promotes only a version it scored on the application's evaluation data, that
comes from a run of the application, and that loads and predicts (in time); otherwise it keeps production and its
decision run says why. Real models in a real MLflow registry."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest

from scanflow_jupyter.agents import Planner
from scanflow_jupyter.tracking.store import use_store

from .conftest import experiment_runs
from .test_builtin import _register, _reset_mlflow

RELEASE = threading.Event()  # lets a model that hangs in load_context go at the end of the test


class LoadFails(mlflow.pyfunc.PythonModel):  # type: ignore[misc]  # MLflow's base class is untyped
    def load_context(self, context: Any) -> None:
        raise RuntimeError("the weights file is corrupt")

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.zeros(len(model_input), dtype=int)


class PredictFails(LoadFails):
    def load_context(self, context: Any) -> None:
        pass

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        raise ValueError("expected 3 features, got 2")


class TooFewPredictions(PredictFails):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.zeros(1, dtype=int)


class HangsOnLoad(LoadFails):
    def load_context(self, context: Any) -> None:
        RELEASE.wait(60)  # until the test lets it go


# Module-level classes: the model files refer to them by name (this module), so loading runs their code here.
BROKEN = {"load": LoadFails, "predict": PredictFails, "short": TooFewPredictions, "hang": HangsOnLoad}


def _register_pyfunc(app: Any, how: str, tags: dict[str, str] | None = None) -> str:
    use_store(app, "models")
    try:
        with mlflow.start_run(tags={"scanflow.app": app.name} if tags is None else tags):
            info = mlflow.pyfunc.log_model(
                name="model", python_model=BROKEN[how](), registered_model_name="clf", pip_requirements=[]
            )
    finally:
        _reset_mlflow()
    return str(info.registered_model_version)


def _eval(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 1, (60, 2)), rng.normal(2, 1, (60, 2))]
    y = np.r_[np.zeros(60, int), np.ones(60, int)]
    np.savez(folder / "eval.npz", x=x, y=y)
    return x, y


def _aliases(client: Any) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model("clf").aliases.items()}


def test_without_evaluation_data_nothing_is_promoted_and_the_decision_says_why(app: Any, client: Any) -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = _eval(app.folder)
    planner = Planner(app, model="clf", evaluation=["later.npz"])  # not there yet
    _register(app, DummyClassifier(strategy="constant", constant=0).fit(x, y))
    [first] = planner.tick()
    assert first.rule == "keep" and first.ok, first.error
    assert first.reasons == [
        "v1 is not promoted: it was not scored on the application's evaluation data (none of its evaluation files is "
        "there yet (later.npz); give the planner evaluation=[...] files with x and y)",
        "'production' stays unset",
    ]
    assert _aliases(client) == {}
    run = client.get_run(first.run_id)  # recorded: the decision run holds the reasons
    assert "it was not scored on the application's evaluation data" in run.data.tags["scanflow.decision.reasons"]

    client.set_registered_model_alias("clf", "production", "1")
    use_store(app, "models")
    try:  # a candidate whose run logged a fine accuracy: only the evaluation data decides, and there is none
        with mlflow.start_run(tags={"scanflow.app": app.name}):
            mlflow.log_metric("accuracy", 0.99)
            mlflow.sklearn.log_model(LogisticRegression().fit(x, y), name="model", registered_model_name="clf",
                                     serialization_format="cloudpickle", pip_requirements=[])  # fmt: skip
    finally:
        _reset_mlflow()
    unscored = Planner(app, model="clf", name="unscored")  # no evaluation files at all
    [second] = unscored.tick()
    assert second.rule == "keep" and second.reasons == [
        "v2 is not promoted: it was not scored on the application's evaluation data (it has no evaluation files; "
        "give the planner evaluation=[...] files with x and y)",
        "'production' stays on v1",
    ]
    assert second.values["scores"]["candidate"]["metric"] == 0.99  # shown beside, never used to choose
    assert _aliases(client) == {"production": "1"}

    (app.folder / "later.npz").write_bytes((app.folder / "eval.npz").read_bytes())  # the data arrives
    [third] = planner.tick()
    assert third.rule == "promote" and _aliases(client) == {"production": "2"}
    assert third.reasons[0].startswith("candidate v2 scores 1.000 against production v1's 0.500 on later.npz")


def test_a_version_from_another_application_is_rejected(app: Any, client: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _eval(app.folder)
    planner = Planner(app, model="clf", evaluation=["eval.npz"])
    _register(app, LogisticRegression().fit(x, y), tags={"scanflow.app": "other"})
    [decision] = planner.tick()
    assert decision.rule == "reject" and decision.ok, decision.error
    run_id = decision.values["scores"]["candidate"]["run_id"]
    assert decision.reasons == [
        f"candidate v1 comes from run {run_id}, which is not a run of application 'loop' (its tag scanflow.app is "
        "'other'); only versions the application's own workflows trained are promoted",
        "'production' stays unset",
    ]
    version = client.get_model_version("clf", "1")
    assert (
        version.tags["scanflow.rejected_by"] == "planner"
        and "not a run of application" in (version.tags["scanflow.rejected"])
    )
    assert _aliases(client) == {} and planner.tick() == []  # one decision per candidate

    _register(app, LogisticRegression().fit(x, y), tags={})  # no tag at all
    [untagged] = planner.tick()
    assert untagged.rule == "reject" and "(it has no scanflow.app tag)" in untagged.reasons[0]

    # A step's run: the tag is on the workflow run above it (the engine tags both; the parent is enough).
    parent = client.create_run(client.get_experiment_by_name("models").experiment_id, tags={"scanflow.app": "loop"})
    _register(app, LogisticRegression().fit(x, y), tags={"mlflow.parentRunId": parent.info.run_id})
    [step] = planner.tick()
    assert step.rule == "promote" and _aliases(client) == {"production": "3"}, step.reasons


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("load", r"candidate v2 fails to load: RuntimeError: the weights file is corrupt"),
        ("predict", r"candidate v2 fails to predict on the evaluation data: ValueError: expected 3 features, got 2"),
        (
            "short",
            r"candidate v2 fails to predict on the evaluation data: ValueError: it gave 1 predictions for the 120 "
            r"samples of eval\.npz",
        ),
        ("hang", r"candidate v2 did not load within 2 s"),
    ],
)
def test_a_model_that_fails_to_load_or_predict_is_rejected_never_promoted(
    app: Any, client: Any, how: str, why: str
) -> None:
    from sklearn.dummy import DummyClassifier

    x, y = _eval(app.folder)
    planner = Planner(app, model="clf", evaluation=["eval.npz"], load_timeout=2)
    _register(app, DummyClassifier(strategy="constant", constant=0).fit(x, y))
    [first] = planner.tick()
    assert first.rule == "promote" and _aliases(client) == {"production": "1"}
    _register_pyfunc(app, how)
    RELEASE.clear()
    try:
        [decision] = planner.tick()
    finally:
        RELEASE.set()
    assert decision.rule == "reject" and decision.ok, decision.error
    assert re.fullmatch(why, decision.reasons[0]), decision.reasons
    assert decision.reasons[1] == "'production' stays on v1"
    assert _aliases(client) == {"production": "1"}  # never promoted
    assert planner.tick() == []  # once per candidate
    assert re.fullmatch(why.removeprefix("candidate "), client.get_model_version("clf", "2").tags["scanflow.rejected"])
    [run] = experiment_runs(client, "loop-agents", "tags.`scanflow.rule` = 'reject'")
    assert (
        run.info.status == "FINISHED"
        and why.split(":")[0].removeprefix("candidate ") in (run.data.tags["scanflow.decision.reasons"])
    )
