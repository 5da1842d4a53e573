"""Checking: autoencoder drift detectors (vectors, images, time series) with calibrated thresholds, batch drift
tests, integrity checks (a registry plugins extend), MLflow models.

Importing this package imports NumPy and the workflow model only; Keras/TensorFlow load when a detector is
fitted or loaded, MLflow when one is logged or loaded, scikit-learn when scores are computed.

Example
-------
>>> from scanflow_jupyter.checking import AutoencoderDetector, load_detector
>>> detector = AutoencoderDetector(false_alarm_rate=0.05, seed=0).fit(reference)     # doctest: +SKIP
>>> detector.score(samples), detector.feature_errors(samples)                        # doctest: +SKIP
>>> report = detector.check(batch, ids=batch_ids, alpha=0.05)                         # doctest: +SKIP
>>> print(report.summary())                                                          # doctest: +SKIP
DRIFT: p = 0.0005 (savage test, alpha 0.05, 200 samples against 404 held-out reference samples)
>>> info = detector.log_model(registered_model_name="digits-checker")                 # doctest: +SKIP
>>> load_detector(info.registered_uri).threshold == detector.threshold               # doctest: +SKIP
True
"""

from __future__ import annotations

from .calibration import conformal_p_values, conformal_threshold, min_calibration_samples
from .checks import CheckResult, IntegrityCheck, IntegrityReport, IntegritySuite, available_checks
from .data import Batch, Scaler, load_batch, save_npz
from .detector import SCORE_KINDS, AutoencoderDetector, Scores
from .drift import DriftTestResult, drift_test, fixed_reference_spread
from .mlflow_model import DetectorModelInfo, load_detector, log_detector
from .report import AnomalousSample, DriftReport
from .sequence import SEQUENCE_SCORE_KINDS, SequenceDetector, SequenceScores, as_series
from .step import checker_node

# Every kind of detector: what %scanflow check, the checker step and the Checker agent accept.
DETECTOR_TYPES = (AutoencoderDetector, SequenceDetector)

__all__ = [
    "DETECTOR_TYPES",
    "SCORE_KINDS",
    "SEQUENCE_SCORE_KINDS",
    "AnomalousSample",
    "AutoencoderDetector",
    "Batch",
    "CheckResult",
    "DetectorModelInfo",
    "DriftReport",
    "DriftTestResult",
    "IntegrityCheck",
    "IntegrityReport",
    "IntegritySuite",
    "Scaler",
    "Scores",
    "SequenceDetector",
    "SequenceScores",
    "as_series",
    "available_checks",
    "checker_node",
    "conformal_p_values",
    "conformal_threshold",
    "drift_test",
    "fixed_reference_spread",
    "load_batch",
    "load_detector",
    "log_detector",
    "min_calibration_samples",
    "save_npz",
]
