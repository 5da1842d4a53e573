"""AutoencoderDetector with real Keras: architectures, scores, calibration, batch checks, determinism, errors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from scanflow_jupyter.checking import SCORE_KINDS, AutoencoderDetector, DriftReport
from scanflow_jupyter.errors import (
    CheckerSettingsError,
    EmptyBatchError,
    InvalidDataError,
    MissingThresholdError,
    NonFiniteValuesError,
    NotEnoughSamplesError,
    ShapeMismatchError,
)

from ..conftest import TINY

Digits = tuple[np.ndarray, np.ndarray]


def test_fit_records_facts_and_calibrates(fitted: AutoencoderDetector) -> None:
    facts = fitted.facts
    assert facts["architecture"] == "dense" and facts["sample_shape"] == [64]
    assert facts["n_train"] + facts["n_validation"] + facts["n_calibration"] == facts["n_reference"] == 800
    assert facts["n_calibration"] == 160 and facts["n_validation"] == 80
    assert 1 <= facts["best_epoch"] <= facts["epochs_run"] <= TINY["epochs"]
    assert set(fitted.thresholds) == set(fitted.calibration_scores) == set(SCORE_KINDS)
    assert fitted.threshold == fitted.thresholds["combined"]
    assert "threshold=" in repr(fitted)


def test_scores_shapes_and_novelty(fitted: AutoencoderDetector, digits: Digits) -> None:
    x, y = digits
    inliers, novel = x[y != 0][800:1000], x[y == 0][:100]
    scores = fitted.scores(inliers)
    for kind in SCORE_KINDS:
        assert scores.get(kind).shape == (200,)
    assert np.array_equal(fitted.score(inliers), scores.combined)
    assert fitted.feature_errors(inliers[:3]).shape == (3, 64)
    assert fitted.reconstruct(inliers[:3]).shape == (3, 64)
    assert np.allclose(
        fitted.feature_errors(inliers[:3]).mean(axis=1), fitted.reconstruction_error(inliers[:3]), rtol=1e-4
    )
    labels = np.r_[np.zeros(200), np.ones(100)]
    # Even a tiny network trained for seconds ranks an unseen digit above the known ones.
    assert roc_auc_score(labels, np.r_[fitted.score(inliers), fitted.score(novel)]) > 0.85
    with pytest.raises(ValueError, match="unknown score 'loss'"):
        scores.get("loss")


def test_marginal_score_flags_noise_on_blank_pixels(fitted: AutoencoderDetector, digits: Digits) -> None:
    x, y = digits
    clean = x[y != 0][800:1000]
    noisy = np.clip(clean + np.random.default_rng(0).normal(0.0, 0.1, clean.shape), 0.0, 1.0).astype(np.float32)
    labels = np.r_[np.zeros(200), np.ones(200)]
    clean_scores, noisy_scores = fitted.scores(clean), fitted.scores(noisy)
    assert roc_auc_score(labels, np.r_[clean_scores.marginal, noisy_scores.marginal]) > 0.95
    assert roc_auc_score(labels, np.r_[clean_scores.combined, noisy_scores.combined]) > 0.95
    assert (noisy_scores.marginal >= 0).all() and "corruption" in fitted.standardization


def test_a_detector_without_the_marginal_score_combines_as_before(fitted: AutoencoderDetector, digits: Digits) -> None:
    x, _ = digits
    marginal = fitted.marginal
    try:
        fitted.marginal = None  # as a detector saved before the marginal score loads
        scores = fitted.scores(x[:50])
        mean, std = fitted.standardization["reconstruction"]
        z_rec = (np.log(scores.reconstruction + 1e-12) - mean) / std
        mean, std = fitted.standardization["input"]
        z_in = (np.log(scores.input + 1e-12) - mean) / std
        assert np.allclose(scores.combined, np.maximum(z_rec - fitted.reconstruction_margin, z_in))
        assert np.isnan(scores.marginal).all() and np.allclose(fitted.score(x[:50]), scores.combined)
    finally:
        fitted.marginal = marginal
    assert not np.allclose(fitted.score(x[:50]), scores.combined)


def test_threshold_false_alarms_on_unseen_inliers(fitted: AutoencoderDetector, digits: Digits) -> None:
    x, y = digits
    unseen = x[y != 0][800:]
    share = float(fitted.is_anomalous(unseen).mean())
    # 5% promised on average over calibration sets; one set of 160 calibrates to within a few points.
    assert share < 0.12
    p = fitted.p_values(unseen)
    assert ((p > 0) & (p <= 1)).all()


@pytest.mark.parametrize(
    ("shape", "architecture"), [((8, 8), "conv"), ((8, 8, 1), "conv"), ((7, 6), "conv"), ((64,), "dense")]
)
def test_architecture_follows_the_sample_shape(digits: Digits, shape: tuple[int, ...], architecture: str) -> None:
    x, _ = digits
    images = x[:300].reshape(-1, 8, 8)
    data = images[:, :7, :6] if shape == (7, 6) else images.reshape(-1, *shape)
    detector = AutoencoderDetector(**{**TINY, "epochs": 3}).fit(data)
    assert detector.facts["architecture"] == architecture and detector.architecture == "auto"
    assert detector.model.output_shape[1:] == shape
    assert detector.feature_errors(data[:2]).shape == (2, *shape)


def test_dense_on_images_by_argument(digits: Digits) -> None:
    x, _ = digits
    detector = AutoencoderDetector(**{**TINY, "epochs": 2}, architecture="dense").fit(x[:200].reshape(-1, 8, 8))
    assert detector.facts["architecture"] == "dense" and detector.score(x[:5].reshape(-1, 8, 8)).shape == (5,)
    with pytest.raises(ValueError, match="needs image samples"):
        AutoencoderDetector(architecture="conv").fit(x[:200])


def test_same_seed_same_detector(digits: Digits) -> None:
    x, _ = digits
    settings: dict[str, Any] = {**TINY, "epochs": 5}
    a = AutoencoderDetector(**settings).fit(x[:300])
    b = AutoencoderDetector(**settings).fit(x[:300])
    assert a.threshold == b.threshold
    assert np.array_equal(a.score(x[300:400]), b.score(x[300:400]))
    c = AutoencoderDetector(**{**settings, "seed": 1}).fit(x[:300])
    assert not np.array_equal(a.score(x[300:400]), c.score(x[300:400]))


def test_check_reports_drift_with_the_anomalous_ids(fitted: AutoencoderDetector, digits: Digits) -> None:
    x, y = digits
    batch = np.r_[x[y != 0][800:960], x[y == 0][:40]]  # 20% of a digit never seen
    ids = [f"known-{i}" for i in range(160)] + [f"new-{i}" for i in range(40)]
    report = fitted.check(batch, ids=ids, top=10)
    assert report.drift and report.verdict == "drift" and report.p_value <= 0.05
    assert report.batch_size == 200 and report.reference_size == 160
    assert report.share_over_threshold == report.n_over_threshold / 200 > 0.1
    assert sum(i.startswith("new-") for i in report.top_ids) >= 5  # 2 expected by chance
    top = report.top[0]
    assert top.score == max(report.batch_scores) and len(top.feature_errors) == 64 and len(top.top_features) == 5
    assert "DRIFT: p =" in report.summary()


def test_check_no_drift_on_known_digits(fitted: AutoencoderDetector, digits: Digits) -> None:
    x, y = digits
    report = fitted.check(x[y != 0][800:1000])
    assert not report.drift and report.p_value > 0.05
    assert report.top_ids[:1] != [] and report.top[0].id.isdigit()  # row numbers when no ids are given


def test_report_is_plain_data(fitted: AutoencoderDetector, digits: Digits) -> None:
    x, _ = digits
    report = fitted.check(x[1000:1050].reshape(-1, 64), top=3)
    data = json.loads(report.to_json())
    assert data["verdict"] == report.verdict and data["top_ids"] == report.top_ids
    assert DriftReport.from_dict(data) == report
    hist = report.histograms(bins=10)
    assert len(hist["edges"]) == 11 and sum(hist["batch"]) == 50 and sum(hist["reference"]) == 160


def test_image_report_has_heatmaps(digits: Digits) -> None:
    x, _ = digits
    images = x[:300].reshape(-1, 8, 8)
    detector = AutoencoderDetector(**{**TINY, "epochs": 3}).fit(images)
    report = detector.check(images[:20], top=2)
    assert np.asarray(report.top[0].feature_errors).shape == (8, 8)
    assert report.top[0].top_features[0][0].count(",") == 1  # "row,col"


# --- bad input: each names the problem and the fix ----------------------------------------------------------


def _too_few(x: np.ndarray) -> None:
    AutoencoderDetector(**TINY).fit(x[:50])


def _nan_reference(x: np.ndarray) -> None:
    bad = x[:300].copy()
    bad[7, 3] = np.nan
    AutoencoderDetector(**TINY).fit(bad)


def _inf_batch(detector: AutoencoderDetector, x: np.ndarray) -> None:
    bad = x[:10].copy()
    bad[4, 0] = np.inf
    detector.check(bad)


def _wrong_shape(detector: AutoencoderDetector, x: np.ndarray) -> None:
    detector.score(x[:10, :60])


def _empty(detector: AutoencoderDetector, x: np.ndarray) -> None:
    detector.check(x[:0])


def _unfitted(detector: AutoencoderDetector, x: np.ndarray) -> None:
    AutoencoderDetector().check(x[:10])


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (
            _too_few,
            NotEnoughSamplesError,
            r"50 reference samples are too few.*at least 100 .*give more reference samples",
        ),
        (
            _nan_reference,
            NonFiniteValuesError,
            r"the reference data has NaN or infinite values in 1 of 300 samples \(rows 7\): drop or impute",
        ),
    ],
)
def test_bad_reference(digits: Digits, action: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        action(digits[0])


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (_inf_batch, NonFiniteValuesError, r"the batch has NaN or infinite values in 1 of 10 samples \(rows 4\)"),
        (
            _wrong_shape,
            ShapeMismatchError,
            r"samples of shape \(60,\), but the detector was fitted on samples of shape \(64,\)",
        ),
        (_empty, EmptyBatchError, "has no samples.*nothing to score"),
        (_unfitted, MissingThresholdError, r"not fitted, so it has no threshold: call detector.fit\(reference\)"),
    ],
)
def test_bad_batch(
    fitted: AutoencoderDetector, digits: Digits, action: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        action(fitted, digits[0])


def test_lower_false_alarm_rate_needs_more_samples(digits: Digits) -> None:
    detector = AutoencoderDetector(**TINY, false_alarm_rate=0.01)
    assert detector.min_samples() == 495  # 99 calibration samples at 20%
    with pytest.raises(
        NotEnoughSamplesError,
        match=r"99 held out to calibrate a threshold at a false-alarm rate of 0\.01.*raise false_alarm_rate",
    ):
        detector.fit(digits[0][:300])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"score": "mse"}, "unknown score 'mse'"),
        ({"architecture": "lstm"}, "unknown architecture 'lstm'"),
        ({"false_alarm_rate": 1.0}, "strictly between 0 and 1"),
        ({"validation_fraction": 0.5, "calibration_fraction": 0.45}, "at least 10% of the data to train"),
        ({"reconstruction_weight": 1.5}, r"reconstruction_weight must lie in \[0, 1\], got 1.5"),
    ],
)
def test_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckerSettingsError, match=message):
        AutoencoderDetector(**kwargs)


def test_feature_names_must_match_the_features(digits: Digits) -> None:
    with pytest.raises(InvalidDataError, match=r"3 feature names for 64 features: give one name per feature"):
        AutoencoderDetector(**TINY).fit(digits[0][:300], feature_names=["a", "b", "c"])


def test_report_notes_a_calibration_set_small_for_the_batch(fitted: AutoencoderDetector, digits: Digits) -> None:
    x, _ = digits
    big = fitted.check(x[:200])  # 160 calibration samples against 200
    assert big.notes and "smaller than the batch (200)" in big.notes[0]
    assert "note: the calibration set (160 samples)" in big.summary()
    # Issue 19: the note was on every report; a batch the calibration set outnumbers gets none.
    assert fitted.check(x[:100]).notes == []
    assert fitted.check(x[:16]).notes == []
