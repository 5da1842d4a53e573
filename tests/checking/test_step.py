"""The checker step: in-process (as an agent calls it) and as a workflow node run by the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scanflow_jupyter.checking import AutoencoderDetector, DriftReport
from scanflow_jupyter.checking.step import check
from scanflow_jupyter.engine import list_runs
from scanflow_jupyter.errors import DriftDetectedError, MissingThresholdError, StepFailedError

Digits = tuple[np.ndarray, np.ndarray]


def _batch(digits: Digits, folder: Path, new_share: float) -> Path:
    x, y = digits
    n_new = int(200 * new_share)
    samples = np.r_[x[y != 0][800 : 1000 - n_new], x[y == 0][:n_new]]
    ids = np.array([f"known-{i}" for i in range(200 - n_new)] + [f"new-{i}" for i in range(n_new)])
    path = folder / "batch.npz"
    np.savez(path, x=samples, ids=ids)
    return path


def test_check_logs_the_verdict_to_mlflow(
    fitted: AutoencoderDetector, digits: Digits, store: str, tmp_path: Path
) -> None:
    import mlflow

    uri = fitted.log_model(registered_model_name="digits-checker").registered_uri
    assert uri is not None
    out = check(uri, str(_batch(digits, tmp_path, 0.25)), top=5)
    assert out["verdict"] == "drift" and out["p_value"] <= 0.05 and len(out["top_ids"]) == 5
    client = mlflow.MlflowClient()
    run = client.get_run(out["run_id"])
    metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
    assert metrics["drift.detected"] == 1.0 and metrics["drift.p_value"] == out["p_value"]
    assert metrics["drift.batch_size"] == 200.0
    assert metrics["drift.share_over_threshold"] == out["share_over_threshold"] > 0.1
    assert params["check.model_uri"] == uri and params["check.alpha"] == "0.05" and params["check.test"] == "tail"
    assert tags["scanflow.check.verdict"] == "drift" and tags["scanflow.check.top_ids"] == ",".join(out["top_ids"])
    report = DriftReport.from_dict(mlflow.artifacts.load_dict(f"runs:/{out['run_id']}/check/drift_report.json"))
    assert report.top_ids == out["top_ids"] and report.model_uri == uri and report.batch_size == 200


def test_check_logs_into_the_callers_run(
    fitted: AutoencoderDetector, digits: Digits, store: str, tmp_path: Path
) -> None:
    import mlflow

    model = fitted.log_model().model_uri
    with mlflow.start_run() as run:
        out = check(model, str(_batch(digits, tmp_path, 0.0)))
    assert out["run_id"] == run.info.run_id and out["verdict"] == "no drift"
    assert mlflow.MlflowClient().get_run(run.info.run_id).data.metrics["drift.detected"] == 0.0


def test_fail_on_drift(fitted: AutoencoderDetector, digits: Digits, store: str, tmp_path: Path) -> None:
    model = fitted.log_model().model_uri
    with pytest.raises(DriftDetectedError, match=r"batch .*batch.npz' drifted \(p = .* <= alpha 0.05"):
        check(model, str(_batch(digits, tmp_path, 0.25)), fail_on_drift=True)


def test_check_with_a_model_that_has_no_threshold(
    fitted: AutoencoderDetector, digits: Digits, store: str, tmp_path: Path
) -> None:
    import mlflow.keras

    with mlflow.start_run():
        plain = mlflow.keras.log_model(fitted.model, name="plain").model_uri
    with pytest.raises(MissingThresholdError, match="has no threshold"):
        check(plain, str(_batch(digits, tmp_path, 0.0)))


@pytest.mark.slow
def test_checker_node_in_a_workflow(
    fitted: AutoencoderDetector, digits: Digits, make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    import scanflow_jupyter as sf

    node = {
        "name": "check",
        "function": "scanflow_jupyter.checking.step:check",
        "parameters": {"model-uri": "models:/digits-checker/1", "batch": "batch.npz", "fail-on-drift": True},
    }
    app = make_app([node])
    _batch(digits, app.folder, 0.25)
    uri = f"sqlite:///{app.folder / '.scanflow' / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("models", (app.folder / ".scanflow" / "artifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
    try:
        fitted.log_model(registered_model_name="digits-checker")
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")

    with pytest.raises(StepFailedError, match=r"(?s)Step 'check'.*DriftDetectedError: the batch 'batch.npz' drifted"):
        sf.run(app)
    (state,) = list_runs(app.folder)
    step_run = state.nodes["check"].mlflow_run_id
    assert step_run is not None
    data = client.get_run(step_run).data
    assert data.metrics["drift.detected"] == 1.0 and data.tags["scanflow.check.verdict"] == "drift"
    assert data.params["check.batch"] == "batch.npz"
