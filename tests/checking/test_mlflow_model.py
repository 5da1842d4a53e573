"""Detectors as MLflow models: logged with their threshold and facts, registered with versions, loaded back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scanflow_jupyter.checking import AutoencoderDetector, load_detector
from scanflow_jupyter.errors import MissingThresholdError, TrackingError

Digits = tuple[np.ndarray, np.ndarray]


def test_log_register_and_load(fitted: AutoencoderDetector, digits: Digits, store: str) -> None:
    import mlflow

    x, _ = digits
    info = fitted.log_model(registered_model_name="digits-checker")
    assert info.version == "1" and info.registered_uri == "models:/digits-checker/1"
    loaded = AutoencoderDetector.load("models:/digits-checker/1")
    assert loaded.threshold == fitted.threshold and loaded.thresholds == fitted.thresholds
    assert loaded.facts == fitted.facts and loaded.sample_shape == fitted.sample_shape
    for kind, scores in fitted.calibration_scores.items():
        assert np.array_equal(loaded.calibration_scores[kind], scores)
    assert np.array_equal(loaded.score(x[:50]), fitted.score(x[:50]))
    assert loaded.marginal is not None and fitted.marginal is not None
    assert np.array_equal(loaded.marginal.upper, fitted.marginal.upper)
    assert loaded.reconstruction_weight == fitted.reconstruction_weight
    assert loaded.check(x[:100]).p_value == fitted.check(x[:100]).p_value

    client = mlflow.MlflowClient()
    run = client.get_run(info.run_id)
    assert float(run.data.params["detector.threshold"]) == fitted.threshold
    assert run.data.params["detector.n_calibration"] == "160"
    assert run.data.params["detector.architecture"] == "dense"
    assert run.data.tags["scanflow.detector.score"] == "combined"
    assert run.info.status == "FINISHED"  # the run log_model started is closed
    version = client.get_model_version("digits-checker", "1")
    assert float(version.tags["scanflow.threshold"]) == fitted.threshold
    assert version.tags["scanflow.false_alarm_rate"] == "0.05"

    assert fitted.log_model(registered_model_name="digits-checker").version == "2"


def test_log_into_the_active_run(fitted: AutoencoderDetector, store: str) -> None:
    import mlflow

    with mlflow.start_run() as run:
        info = fitted.log_model("checker", tags={"team": "vision"})
        assert mlflow.active_run() is not None  # still open: it is the caller's run
    assert info.run_id == run.info.run_id and info.version is None and info.registered_uri is None
    data = mlflow.MlflowClient().get_run(run.info.run_id).data
    assert "checker.threshold" in data.params and data.tags["team"] == "vision"
    assert load_detector(info.model_uri).threshold == fitted.threshold


@pytest.mark.slow
def test_loads_from_a_server_leave_no_download_behind(
    fitted: AutoencoderDetector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each load downloads into a temporary folder of its own (two at once never share one) and removes it once
    the detector is in memory: from a tracking server, every load used to leave a copy of the model behind (an
    agent restarted every day, one more copy a day). A real ``mlflow server``; two loads at once."""
    import tempfile
    import threading

    import mlflow

    from ..tracking.runstores import MlflowServer

    server = MlflowServer(tmp_path / "server").start()
    try:
        client = mlflow.MlflowClient(server.uri)
        experiment = client.create_experiment("checks")
        mlflow.set_tracking_uri(server.uri)
        with mlflow.start_run(experiment_id=experiment):
            uri = fitted.log_model().model_uri
        mlflow.end_run()
        temp = tmp_path / "temp"
        temp.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(temp))
        loaded: list[float] = []
        threads = [
            threading.Thread(target=lambda: loaded.append(load_detector(uri, tracking_uri=server.uri).threshold))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        server.stop()
    assert loaded == [fitted.threshold] * 2
    assert list(temp.iterdir()) == []


def test_pyfunc_flavour_scores(fitted: AutoencoderDetector, digits: Digits, store: str) -> None:
    import mlflow.pyfunc

    x, _ = digits
    info = fitted.log_model()
    frame = mlflow.pyfunc.load_model(info.model_uri).predict(x[:5])
    assert list(frame.columns) == ["score", "p_value", "anomalous"]
    assert np.allclose(frame["score"], fitted.score(x[:5]), rtol=1e-6)
    assert frame["anomalous"].tolist() == (fitted.score(x[:5]) > fitted.threshold).tolist()


def _plain_keras_model(fitted: AutoencoderDetector, tmp_path: Path) -> str:
    import mlflow.keras

    with mlflow.start_run():
        return str(mlflow.keras.log_model(fitted.model, name="plain").model_uri)


def _downloaded(fitted: AutoencoderDetector, tmp_path: Path) -> Path:
    import mlflow

    uri = fitted.log_model().model_uri
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "copy")))


def _metadata_removed(fitted: AutoencoderDetector, tmp_path: Path) -> str:
    import yaml

    folder = _downloaded(fitted, tmp_path)
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    del mlmodel["metadata"]
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return str(folder)


def _thresholds_removed(fitted: AutoencoderDetector, tmp_path: Path) -> str:
    folder = _downloaded(fitted, tmp_path)
    state_file = next(folder.rglob("detector.json"))
    state = json.loads(state_file.read_text())
    state["thresholds"] = {}
    state_file.write_text(json.dumps(state))
    return str(folder)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_plain_keras_model, r"it is not a calibrated scanflow detector \(flavours: keras, python_function\)"),
        (_metadata_removed, "it is not a calibrated scanflow detector"),
        (_thresholds_removed, "its detector.json holds no thresholds"),
    ],
)
def test_model_without_threshold(fitted: AutoencoderDetector, store: str, tmp_path: Path, make: Any, why: str) -> None:
    uri = make(fitted, tmp_path)
    with pytest.raises(MissingThresholdError, match=f"has no threshold: {why}.*detector.log_model"):
        load_detector(uri)


def test_unknown_model(store: str) -> None:
    with pytest.raises(TrackingError, match=r"cannot load the model 'models:/nobody/1'.*MLFLOW_TRACKING_URI"):
        load_detector("models:/nobody/1")


def test_folder_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrackingError, match="not an MLflow model"):
        load_detector(str(tmp_path / "empty"))


def test_unfitted_detector_cannot_be_logged(store: str) -> None:
    with pytest.raises(MissingThresholdError, match="not fitted"):
        AutoencoderDetector().log_model()
