"""The sequence detector: windows, scores per window and per step, the report's time plot, the MLflow round trip,
the checker step, and bad input (lengths that differ, a window longer than the series, NaN gaps, a constant
feature), each a clear error naming the offender and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scanflow_jupyter.checking import DriftReport, SequenceDetector, as_series, load_detector
from scanflow_jupyter.errors import (
    CheckerSettingsError,
    MissingThresholdError,
    NonFiniteValuesError,
    NotEnoughSamplesError,
    SequenceError,
    ShapeMismatchError,
)

SMALL: dict[str, Any] = {
    "window": 16,
    "filters": (8, 8),
    "code_size": 4,
    "epochs": 8,
    "patience": 3,
    "progress": False,
    "seed": 0,
}


def _series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.c_[np.sin(2 * np.pi * t / 12), np.cos(2 * np.pi * t / 20)] + rng.normal(0, 0.05, (n, 2))


@pytest.fixture(scope="module")
def sequence_detector() -> SequenceDetector:
    return SequenceDetector(**SMALL).fit(_series(3000, 0), feature_names=["left", "right"])


def _anomalous(n: int = 640) -> np.ndarray:
    batch = _series(n, 1)
    batch[200:203, 0] += 6.0  # a spike
    batch[400:440, 1] += 2.0  # a level shift
    return batch


def test_fit_splits_blocks_and_calibrates(sequence_detector: SequenceDetector) -> None:
    facts = sequence_detector.facts
    assert facts["n_calibration"] >= 20 and facts["n_validation"] >= 5
    assert set(sequence_detector.thresholds) == {"reconstruction", "latent", "combined"}
    assert sequence_detector.sample_shape == (16, 2)
    assert "SequenceDetector(conv, window 16, 2 features" in repr(sequence_detector)


def test_scores_per_window_and_per_step(sequence_detector: SequenceDetector) -> None:
    batch = _anomalous()
    scores = sequence_detector.scores(batch)
    assert len(scores.combined) == 640 // 16 and scores.start.tolist()[:3] == [0, 16, 32]
    steps = sequence_detector.timestep_scores(batch)
    assert steps.shape == (640,)
    assert steps[200:203].mean() > 5 * np.median(steps)
    several = sequence_detector.timestep_scores(np.stack([batch, _series(640, 2)]))
    assert several.shape == (2, 640)
    assert sequence_detector.is_anomalous(batch).sum() >= 2


def test_check_names_windows_and_draws_a_time_plot(sequence_detector: SequenceDetector) -> None:
    report = sequence_detector.check(_anomalous(), top=3)
    assert report.batch_size == 40 and report.batch_ids is not None and report.batch_ids[0] == "0-15"
    assert {"192-207", "400-415"} & set(report.top_ids)
    assert report.top[0].top_features[0][0] in ("left", "right")
    timeline = report.timeline
    assert timeline is not None
    assert timeline["features"] == ["left", "right"] and len(timeline["values"]) == 2
    assert len(timeline["steps"]) == len(timeline["error"]) == 640 and not timeline["downsampled"]
    shaded = [w for w in timeline["windows"] if w["over"]]
    assert any(w["start"] <= 200 < w["end"] for w in shaded)
    assert report.failed_checks == ["ranges"]  # the spike and the shift left the reference's range
    again = DriftReport.from_dict(report.to_dict())
    assert again.timeline == timeline and again.checks == report.checks


def test_timestamps_name_the_windows(sequence_detector: SequenceDetector) -> None:
    stamps = [f"t{i:04d}" for i in range(320)]
    report = sequence_detector.check(_series(320, 3), ids=stamps, top=1)
    assert report.batch_ids is not None and report.batch_ids[0] == "t0000..t0015"
    assert report.timeline is not None and report.timeline["labels"][:2] == ["t0000", "t0001"]
    batch = np.stack([_series(320, 4), _series(320, 5)])
    report = sequence_detector.check(batch, ids=["pump-a", "pump-b"])
    assert report.batch_ids is not None and report.batch_ids[20] == "pump-b:0-15"


def test_a_long_batch_is_downsampled_in_the_time_plot(sequence_detector: SequenceDetector) -> None:
    report = sequence_detector.check(_series(4000, 6))
    assert report.timeline is not None and report.timeline["downsampled"]
    assert len(report.timeline["steps"]) <= 1500


def test_mlflow_round_trip(sequence_detector: SequenceDetector, store: str) -> None:
    info = sequence_detector.log_model(registered_model_name="pump-checker")
    assert info.registered_uri == "models:/pump-checker/1"
    loaded = load_detector(info.registered_uri)
    assert isinstance(loaded, SequenceDetector)
    assert loaded.threshold == sequence_detector.threshold and loaded.feature_names == ["left", "right"]
    batch = _anomalous()
    np.testing.assert_allclose(loaded.score(batch), sequence_detector.score(batch), rtol=1e-5)
    assert loaded.check(batch).failed_checks == ["ranges"]
    import mlflow

    served = mlflow.pyfunc.load_model(info.model_uri).predict(batch.astype(np.float32))
    assert len(served) == 40 and set(served.columns) == {"score", "p_value", "anomalous"}


def test_the_checker_step_checks_a_series_file(sequence_detector: SequenceDetector, store: str, tmp_path: Path) -> None:
    import mlflow

    from scanflow_jupyter.checking.step import check
    from scanflow_jupyter.errors import IntegrityCheckFailedError

    info = sequence_detector.log_model()
    np.save(tmp_path / "series.npy", _anomalous())
    with pytest.raises(IntegrityCheckFailedError, match=r"failed 1 integrity check\(s\): ranges: FAILED: feature 'le"):
        check(info.model_uri, str(tmp_path / "series.npy"), fail_on_checks=True)
    run = mlflow.search_runs(order_by=["attributes.start_time DESC"], max_results=1).iloc[0]
    assert run["metrics.integrity.failed"] == 1.0 and run["metrics.integrity.ranges.passed"] == 0.0
    assert run["tags.scanflow.check.failed_checks"] == "ranges"
    np.save(tmp_path / "clean.npy", _series(640, 7))
    result = check(info.model_uri, str(tmp_path / "clean.npy"), fail_on_checks=True)
    assert result["failed_checks"] == []


def _ragged(detector: SequenceDetector) -> None:
    detector.check([_series(100, 0), _series(80, 1)])


def _too_short(detector: SequenceDetector) -> None:
    detector.check(_series(10, 0))


def _gap(detector: SequenceDetector) -> None:
    batch = _series(200, 0)
    batch[50:54, 1] = np.nan
    batch[120, 1] = np.nan
    detector.check(batch)


def _wrong_features(detector: SequenceDetector) -> None:
    detector.check(np.zeros((100, 3)))


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (
            _ragged,
            SequenceError,
            r"sequences of different lengths \(sequence 0: 100, sequence 1: 80 time steps\): give sequences of one "
            r"length as an array",
        ),
        (
            _too_short,
            SequenceError,
            r"the batch has 10 time steps, fewer than the detector's window of 16: give a series of at least 16",
        ),
        (
            _gap,
            NonFiniteValuesError,
            r"the batch has NaN or infinite values \(5 values: feature 'right' at steps 50-53, 120\): fill the gaps "
            r"\(for example pandas' DataFrame.interpolate\(\)",
        ),
        (_wrong_features, ShapeMismatchError, r"the batch has 3 features, but the detector was fitted on 2"),
    ],
)
def test_bad_batches(sequence_detector: SequenceDetector, action: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        action(sequence_detector)


def test_gap_steps_are_listed() -> None:
    batch = _series(100, 0)
    batch[[3, 4, 9], 0] = np.nan
    with pytest.raises(NonFiniteValuesError) as info:
        as_series(batch)
    assert info.value.rows == [3, 4, 9]


def test_bad_references() -> None:
    constant = _series(3000, 0)
    constant[:, 1] = 3.5
    with pytest.raises(SequenceError, match=r"feature 'flow' of the reference series is constant \(3.5 throughout\)"):
        SequenceDetector(**SMALL).fit(constant, feature_names=["speed", "flow"])
    with pytest.raises(SequenceError, match="the reference series has 12 time steps, fewer than the detector's window"):
        SequenceDetector(**SMALL).fit(_series(12, 0))
    with pytest.raises(NotEnoughSamplesError, match=r"600 reference time steps are too few .* it needs at least 1"):
        SequenceDetector(**SMALL).fit(_series(600, 0))
    with pytest.raises(CheckerSettingsError, match="unknown sequence architecture 'gru': use one of conv, lstm"):
        SequenceDetector(architecture="gru")  # type: ignore[arg-type]
    with pytest.raises(MissingThresholdError, match=r"call detector.fit\(series\) first"):
        SequenceDetector().check(_series(100, 0))


def test_the_lstm_autoencoder_fits_and_scores() -> None:
    detector = SequenceDetector(**{**SMALL, "epochs": 2}, architecture="lstm", units=8).fit(_series(2500, 0))
    assert detector.facts["architecture"] == "lstm"
    assert detector.score(_anomalous()).shape == (40,)
