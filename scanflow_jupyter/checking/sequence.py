"""``SequenceDetector``: an autoencoder drift detector for multivariate time series, cut into windows.

A series is ``(time steps, features)`` (or ``(time steps,)`` for one feature); a batch of several sequences of
one length is ``(sequences, time steps, features)``. The detector standardises each feature, cuts the series into
windows of ``window`` steps, and learns to reconstruct them (a temporal-convolution or an LSTM autoencoder).

How a fit spends the reference series: it is cut into blocks of ``block_windows`` windows, and the blocks are
shuffled (seeded) into training, validation and calibration blocks, so no window straddles two parts (overlapping
windows would leak training data into the calibration set) and a slow trend is spread over all three.

Scores, per window (the "samples" of the threshold, the p-values and the drift test): the windows that tile the
series without overlap (the last one ends at the last step). ``reconstruction`` is the window's mean squared
error, ``latent`` the mean distance of its code to the ``neighbors`` nearest training codes, and ``combined`` the
larger of the two, log-standardised on the validation windows (as for
:class:`~scanflow_jupyter.checking.AutoencoderDetector`). Per time step, :meth:`timestep_scores` averages the
squared error of every overlapping window that covers the step: a line to plot beside the series.

Calibration and the drift test are the dense detector's: the threshold is conformal on the calibration windows,
and the batch test compares the batch's window scores with theirs. Windows of one series are not independent as
samples of a table are: the guarantee holds as far as non-overlapping windows are exchangeable (a stationary
series whose memory is shorter than a window); ``benchmarks/sequence_quality.py`` measures the false-alarm rate.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import (
    CheckerSettingsError,
    EmptyBatchError,
    InvalidDataError,
    MissingThresholdError,
    NonFiniteValuesError,
    NotEnoughSamplesError,
    SequenceError,
    ShapeMismatchError,
)
from .calibration import conformal_p_values, conformal_threshold, min_calibration_samples
from .checks import IntegritySuite
from .drift import TestName, drift_test
from .networks import CODE_LAYER, keras
from .report import AnomalousSample, DriftReport, calibration_notes
from .sequence_networks import SEQUENCE_ARCHITECTURES, SequenceArchitecture, build_sequence_autoencoder

if TYPE_CHECKING:
    from .mlflow_model import DetectorModelInfo

__all__ = ["SEQUENCE_SCORE_KINDS", "SequenceDetector", "SequenceScores", "as_series"]

SEQUENCE_SCORE_KINDS: tuple[str, ...] = ("reconstruction", "latent", "combined")
SEQUENCE_CHECKS: tuple[str, ...] = ("schema", "ranges")  # rows are time steps: no duplicates or per-step KS
MIN_TRAIN = 20
MIN_VALIDATION = 5
MIN_CALIBRATION = 20
CLIP = 10.0  # standardised values are clipped to +-CLIP: a spike still stands out, it cannot overflow the error
MAX_POINTS = 1500  # points per line of a report's time plot
_EPS = 1e-12
_CHUNK = 2048
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SequenceScores:
    """Scores of the windows of a series (or batch of sequences): one array per kind, and where each window is."""

    reconstruction: npt.NDArray[np.float64]
    latent: npt.NDArray[np.float64]
    combined: npt.NDArray[np.float64]
    sequence: npt.NDArray[np.intp]
    start: npt.NDArray[np.intp]

    def get(self, kind: str) -> npt.NDArray[np.float64]:
        if kind not in SEQUENCE_SCORE_KINDS:
            raise CheckerSettingsError(f"unknown score {kind!r}: use one of {', '.join(SEQUENCE_SCORE_KINDS)}")
        value: npt.NDArray[np.float64] = getattr(self, kind)
        return value


def as_series(
    data: Any,
    *,
    what: str = "the series",
    window: int | None = None,
    n_features: int | None = None,
    feature_names: Sequence[str] | None = None,
) -> FloatArray:
    """``data`` as float32 sequences ``(n, time steps, features)``, after checking it.

    A 1-D array is one series of one feature, a 2-D one a series ``(time steps, features)`` (a DataFrame: its
    columns are the features), a 3-D one several sequences of one length. A list of sequences whose lengths differ
    is refused (with their lengths), as are NaN gaps (with where they are) and series shorter than ``window``.

    Example
    -------
    >>> as_series(np.zeros((100, 3))).shape
    (1, 100, 3)
    """
    if hasattr(data, "to_numpy") and hasattr(data, "columns"):
        data = data.to_numpy()
    if isinstance(data, list | tuple) and data and all(hasattr(d, "__len__") for d in data):
        lengths = [len(d) for d in data]
        if len(set(lengths)) > 1:
            shown = ", ".join(f"sequence {i}: {n}" for i, n in enumerate(lengths[:6])) + (
                ", ..." if len(lengths) > 6 else ""
            )
            raise SequenceError(
                f"{what} holds sequences of different lengths ({shown} time steps): give sequences of one length "
                "as an array (sequences, time steps, features), cut them to the shortest, or check them one at a "
                "time (each series is windowed on its own)"
            )
    try:
        array = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(
            f"{what} is not numeric ({exc}): give an array of numbers of shape (time steps, features)"
        ) from None
    if array.ndim == 1:
        array = array[None, :, None]
    elif array.ndim == 2:
        array = array[None]
    elif array.ndim != 3:
        raise InvalidDataError(
            f"{what} has shape {array.shape}: give a series (time steps, features), (time steps,) for one feature, "
            "or sequences of one length (sequences, time steps, features)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise EmptyBatchError(f"{what} has no time steps (shape {array.shape}): there is nothing to score")
    if n_features is not None and array.shape[2] != n_features:
        raise ShapeMismatchError(
            f"{what} has {array.shape[2]} features, but the detector was fitted on {n_features}: give it the same "
            "features, in the same order (columns of a (time steps, features) array)"
        )
    if not np.isfinite(array).all():
        raise NonFiniteValuesError(_gap_message(array, what, feature_names), _gap_steps(array))
    if window is not None and array.shape[1] < window:
        raise SequenceError(
            f"{what} has {array.shape[1]} time steps, fewer than the detector's window of {window}: give a series "
            f"of at least {window} steps, or fit a detector with a shorter window (window=...)"
        )
    return array


def _gap_steps(array: FloatArray) -> list[int]:
    return [int(t) for t in np.flatnonzero(~np.isfinite(array).all(axis=(0, 2)))]


def _gap_message(array: FloatArray, what: str, feature_names: Sequence[str] | None) -> str:
    bad = ~np.isfinite(array)
    gaps = []
    for s, f in zip(*np.nonzero(bad.any(axis=1)), strict=True):
        steps = np.flatnonzero(bad[s, :, f])
        runs = np.split(steps, np.flatnonzero(np.diff(steps) > 1) + 1)
        where = ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs[:4])
        name = feature_names[f] if feature_names is not None and f < len(feature_names) else str(f)
        prefix = f"sequence {s}, " if array.shape[0] > 1 else ""
        gaps.append(f"{prefix}feature {name!r} at steps {where}" + (", ..." if len(runs) > 4 else ""))
    shown = "; ".join(gaps[:4]) + ("; ..." if len(gaps) > 4 else "")
    return (
        f"{what} has NaN or infinite values ({int(bad.sum())} values: {shown}): fill the gaps (for example "
        "pandas' DataFrame.interpolate(), or a forward fill), or split the series at them and check each part"
    )


def window_starts(length: int, window: int, stride: int) -> npt.NDArray[np.intp]:
    """Starts of windows of ``window`` steps every ``stride`` steps, plus one ending at the last step."""
    starts = np.arange(0, length - window + 1, stride)
    if starts[-1] != length - window:
        starts = np.r_[starts, length - window]
    return starts.astype(np.intp)


class SequenceDetector:
    """A windowed autoencoder fitted on reference time series that scores windows and tests batches for drift.

    Parameters
    ----------
    window
        Time steps per window.
    architecture
        ``conv`` (a temporal-convolution autoencoder, default) or ``lstm``.
    train_stride
        Steps between training windows (default ``window // 4``: overlapping windows give more to learn from).
    code_size, filters, units
        The bottleneck's width; the convolutions' widths (``conv``); the LSTMs' units (``lstm``).
    neighbors
        ``k`` of the latent k-nearest-neighbour distance.
    false_alarm_rate
        Per-window false-alarm rate the threshold is calibrated for.
    block_windows
        Windows per block when the reference is split into training, validation and calibration blocks.
    checks, checks_alpha
        Integrity checks fitted on the reference's time steps and run by :meth:`check` (default: ``schema`` and
        ``ranges``).
    epochs, patience, batch_size, learning_rate, validation_fraction, calibration_fraction, seed, progress
        As for :class:`~scanflow_jupyter.checking.AutoencoderDetector`.

    Example
    -------
    >>> t = np.arange(20_000)
    >>> series = np.c_[np.sin(t / 7), np.cos(t / 13)] + np.random.default_rng(0).normal(0, 0.1, (20_000, 2))
    >>> detector = SequenceDetector(window=32, seed=0).fit(series)       # doctest: +SKIP
    >>> report = detector.check(new_series)                              # doctest: +SKIP
    >>> report.timeline["windows"][:1]                                   # doctest: +SKIP
    [{'start': 640, 'end': 672, 'score': 4.1, 'over': True, 'id': '640-671'}]
    """

    kind = "sequence"

    def __init__(
        self,
        *,
        window: int = 32,
        architecture: SequenceArchitecture = "conv",
        train_stride: int | None = None,
        code_size: int = 16,
        filters: Sequence[int] = (32, 32),
        units: int = 32,
        neighbors: int = 3,
        false_alarm_rate: float = 0.05,
        block_windows: int = 8,
        checks: str | Sequence[str] = SEQUENCE_CHECKS,
        checks_alpha: float = 0.05,
        epochs: int = 200,
        patience: int = 8,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        validation_fraction: float = 0.1,
        calibration_fraction: float = 0.2,
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        if architecture not in SEQUENCE_ARCHITECTURES:
            raise CheckerSettingsError(
                f"unknown sequence architecture {architecture!r}: use one of {', '.join(SEQUENCE_ARCHITECTURES)}"
            )
        if window < 4:
            raise CheckerSettingsError(f"window must be at least 4 time steps, got {window}")
        if train_stride is not None and train_stride < 1:
            raise CheckerSettingsError(f"train_stride must be positive, got {train_stride}")
        min_calibration_samples(false_alarm_rate)
        for name, value in (
            ("validation_fraction", validation_fraction),
            ("calibration_fraction", calibration_fraction),
        ):
            if not 0.0 < value < 1.0:
                raise CheckerSettingsError(f"{name} must lie strictly between 0 and 1, got {value}")
        if validation_fraction + calibration_fraction >= 0.9:
            raise CheckerSettingsError(
                "validation_fraction + calibration_fraction must leave at least 10% of the data to train"
            )
        if min(neighbors, code_size, epochs, batch_size, units, block_windows) < 1:
            raise CheckerSettingsError(
                "neighbors, code_size, epochs, batch_size, units and block_windows must be positive"
            )
        self.window = window
        self.architecture: str = architecture
        self.train_stride = train_stride or max(1, window // 4)
        self.code_size = code_size
        self.filters = tuple(filters)
        self.units = units
        self.neighbors = neighbors
        self.false_alarm_rate = false_alarm_rate
        self.block_windows = block_windows
        self.checks: str | list[str] = checks if isinstance(checks, str) else list(checks)
        self.checks_alpha = checks_alpha
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.calibration_fraction = calibration_fraction
        self.seed = seed
        self.progress = progress
        self.score_kind = "combined"
        # Fitted state.
        self.model: Any = None
        self.mean: npt.NDArray[np.float32] | None = None
        self.std: npt.NDArray[np.float32] | None = None
        self.n_features: int | None = None
        self.feature_names: list[str] | None = None
        self.train_codes: FloatArray | None = None
        self.standardization: dict[str, tuple[float, float]] = {}
        self.calibration_scores: dict[str, npt.NDArray[np.float64]] = {}
        self.thresholds: dict[str, float] = {}
        self.facts: dict[str, Any] = {}
        self.integrity: IntegritySuite | None = None
        self._forward: Any = None
        self._index: Any = None

    # ------------------------------------------------------------------ shape facts

    @property
    def sample_shape(self) -> tuple[int, ...] | None:
        """A window's shape, ``(window, features)``."""
        return None if self.n_features is None else (self.window, self.n_features)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """What the MLflow model takes: a series ``(time steps, features)``."""
        return (-1, self.n_features or -1)

    @property
    def fitted(self) -> bool:
        return self.model is not None and bool(self.thresholds)

    @property
    def threshold(self) -> float:
        """The calibrated threshold of the combined window score."""
        self.require_fitted()
        return self.thresholds[self.score_kind]

    def require_fitted(self) -> None:
        """Raise :class:`~scanflow_jupyter.errors.MissingThresholdError` unless the detector is fitted."""
        if self.model is None or not self.thresholds:
            raise MissingThresholdError(
                "the sequence detector is not fitted, so it has no threshold: call detector.fit(series) first, or "
                "load a fitted one with SequenceDetector.load(model_uri)"
            )

    # ------------------------------------------------------------------ fitting

    def min_steps(self) -> int:
        """The fewest time steps of reference (one series) :meth:`fit` accepts with these settings."""
        need_cal = max(MIN_CALIBRATION, min_calibration_samples(self.false_alarm_rate))
        need = {"calibration": need_cal, "validation": MIN_VALIDATION}
        blocks = 3
        while True:
            counts = self._block_counts(blocks)
            windows = {k: v * self.block_windows for k, v in counts.items()}
            train_windows = counts["train"] * (self.block_windows * self.window // self.train_stride)
            if all(windows[k] >= n for k, n in need.items()) and train_windows >= MIN_TRAIN:
                return blocks * self.block_windows * self.window
            blocks += 1

    def _block_counts(self, blocks: int) -> dict[str, int]:
        calibration = int(blocks * self.calibration_fraction + 0.5)
        validation = max(1, int(blocks * self.validation_fraction + 0.5))
        return {"calibration": calibration, "validation": validation, "train": blocks - calibration - validation}

    def fit(self, reference: Any, *, feature_names: Sequence[str] | None = None) -> SequenceDetector:
        """Train on reference series (see :func:`as_series` for the shapes), then calibrate; returns ``self``."""
        x = as_series(
            reference,
            what="the reference series",
            window=self.window,
            feature_names=feature_names,
        )
        n_features = x.shape[2]
        if feature_names is not None and len(feature_names) != n_features:
            raise InvalidDataError(
                f"{len(feature_names)} feature names for {n_features} features: give one name per feature (column)"
            )
        names = list(feature_names) if feature_names is not None else None
        flat = x.reshape(-1, n_features)
        std = flat.std(axis=0)
        constant = np.flatnonzero(std <= 1e-7 * np.maximum(1.0, np.abs(flat.mean(axis=0))))
        if len(constant):
            labels = ", ".join(repr(names[i]) if names else str(int(i)) for i in constant[:5])
            raise SequenceError(
                f"feature {labels} of the reference series is constant ({flat[0, constant[0]]:g} throughout): "
                "it carries no signal and cannot be standardised; drop it (the column) before fitting, or give a "
                "reference in which it varies"
            )
        block = self.block_windows * self.window
        blocks = [(s, b) for s in range(x.shape[0]) for b in range(x.shape[1] // block)]
        need = self.min_steps()
        counts = self._block_counts(len(blocks))
        if counts["train"] < 1 or len(blocks) * block < need:
            raise NotEnoughSamplesError(
                f"{x.shape[0] * x.shape[1]} reference time steps are too few for a sequence detector with a window of "
                f"{self.window}: it needs at least {need} (blocks of {self.block_windows} windows, shared out as "
                f"{1 - self.validation_fraction - self.calibration_fraction:.0%} training, "
                f"{self.validation_fraction:.0%} validation and {self.calibration_fraction:.0%} calibration, with "
                f"at least {max(MIN_CALIBRATION, min_calibration_samples(self.false_alarm_rate))} calibration "
                "windows); give a longer reference, or a shorter window, or fewer block_windows"
            )
        order = np.random.default_rng(self.seed).permutation(len(blocks))
        parts = {
            "calibration": order[: counts["calibration"]],
            "validation": order[counts["calibration"] : counts["calibration"] + counts["validation"]],
            "train": order[counts["calibration"] + counts["validation"] :],
        }
        chunks = {name: [x[blocks[i][0], blocks[i][1] * block : (blocks[i][1] + 1) * block] for i in idx]
                  for name, idx in parts.items()}  # fmt: skip
        train_steps = np.concatenate(chunks["train"])
        self.mean = train_steps.mean(axis=0).astype(np.float32)
        self.std = np.maximum(train_steps.std(axis=0), 1e-6 * np.abs(self.mean) + 1e-12).astype(np.float32)
        self.n_features = n_features
        self.feature_names = names
        train_w = np.concatenate([self._windows(c[None], self.train_stride)[0] for c in chunks["train"]])
        val_w = np.concatenate([self._windows(c[None], self.window)[0] for c in chunks["validation"]])
        cal_w = np.concatenate([self._windows(c[None], self.window)[0] for c in chunks["calibration"]])

        k = keras()
        import tensorflow as tf

        started = time.perf_counter()
        k.utils.set_random_seed(self.seed)
        model = build_sequence_autoencoder(
            self.window, n_features, self.architecture, code_size=self.code_size, filters=self.filters, units=self.units
        )
        model.compile(optimizer=k.optimizers.Adam(self.learning_rate), loss="mse", steps_per_execution=8)
        scaled_train, scaled_val = self._scale(train_w), self._scale(val_w)
        train_ds = (
            tf.data.Dataset.from_tensor_slices((scaled_train, scaled_train))
            .cache()
            .shuffle(len(scaled_train), seed=self.seed, reshuffle_each_iteration=True)
            .batch(self.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        val_ds = tf.data.Dataset.from_tensor_slices((scaled_val, scaled_val)).batch(1024).cache()
        stopper = k.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience, restore_best_weights=True)
        from .detector import progress_callback

        history = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=self.epochs,
            shuffle=False,
            verbose=0,
            callbacks=[stopper, progress_callback(k, self.epochs, self.progress, f"{self.architecture} sequence")],
        )
        val_losses = [float(v) for v in history.history["val_loss"]]
        self.model = model
        self._forward = None
        self._index = None
        self.train_codes = self._encode(train_w)
        self.standardization = {}
        val_rec, val_lat = self._raw(val_w)
        for kind, values in (("reconstruction", val_rec), ("latent", val_lat)):
            logs = np.log(values + _EPS)
            self.standardization[kind] = (float(logs.mean()), float(logs.std()) or 1.0)
        calibration = self._combine(*self._raw(cal_w))
        self.calibration_scores = dict(zip(SEQUENCE_SCORE_KINDS, calibration, strict=True))
        self.thresholds = {
            kind: conformal_threshold(values, self.false_alarm_rate) for kind, values in self.calibration_scores.items()
        }
        self.facts = {
            "architecture": self.architecture,
            "window": self.window,
            "n_features": n_features,
            "n_reference_steps": int(x.shape[0] * x.shape[1]),
            "n_train": len(train_w),
            "n_validation": len(val_w),
            "n_calibration": len(cal_w),
            "epochs_run": len(val_losses),
            "best_epoch": int(np.argmin(val_losses)) + 1,
            "best_val_loss": min(val_losses),
            "parameters": int(model.count_params()),
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
        self.integrity = None
        if self.checks:
            self.integrity = IntegritySuite(self.checks, alpha=self.checks_alpha).fit(flat, feature_names=names)
        return self

    # ------------------------------------------------------------------ scoring

    def scores(self, series: Any) -> SequenceScores:
        """Every kind of score of each non-overlapping window of ``series``."""
        x = self._prepare(series)
        windows, where = self._windows(x, self.window)
        rec, lat, comb = self._combine(*self._raw(windows))
        return SequenceScores(rec, lat, comb, where[:, 0], where[:, 1])

    def score(self, series: Any) -> npt.NDArray[np.float64]:
        """The combined score of each non-overlapping window (in time order, sequence by sequence)."""
        return self.scores(series).combined

    def p_values(self, series: Any) -> npt.NDArray[np.float64]:
        """Per-window conformal p-values against the calibration windows."""
        return conformal_p_values(self.calibration_scores[self.score_kind], self.score(series))

    def is_anomalous(self, series: Any) -> npt.NDArray[np.bool_]:
        """Whether each non-overlapping window scores above the threshold."""
        return np.asarray(self.score(series) > self.threshold)

    def timestep_scores(self, series: Any, stride: int | None = None) -> npt.NDArray[np.float64]:
        """The squared reconstruction error of each time step (mean over features), averaged over the windows
        (every ``stride`` steps, default ``window // 8``) that cover it: shape ``(time steps,)`` for a series,
        ``(sequences, time steps)`` for a batch of them."""
        x = self._prepare(series)
        out = self._timestep_errors(x, stride)
        return out[0] if np.asarray(series).ndim < 3 else out

    def _timestep_errors(self, x: FloatArray, stride: int | None = None) -> npt.NDArray[np.float64]:
        windows, where = self._windows(x, stride or max(1, self.window // 8))
        errors = self._error_maps(windows).mean(axis=2)  # (windows, window)
        total = np.zeros(x.shape[:2])
        count = np.zeros(x.shape[:2])
        for (s, start), e in zip(where, errors, strict=True):
            total[s, start : start + self.window] += e
            count[s, start : start + self.window] += 1
        return np.asarray(total / np.maximum(count, 1))

    # ------------------------------------------------------------------ batches

    def check(
        self,
        batch: Any,
        *,
        ids: Sequence[Any] | None = None,
        alpha: float = 0.05,
        test: TestName = "tail",
        top: int = 10,
        n_permutations: int = 1999,
        seed: int | None = 0,
        model_uri: str | None = None,
        labels: Any = None,
        predictions: Any = None,
    ) -> DriftReport:
        """Test a series (or sequences) for drift against the calibration windows, run the integrity checks, and
        describe the most anomalous windows.

        ``ids`` names the time steps of a single series (timestamps, say: one per step) or the sequences of a
        batch (one per sequence); windows are named after them. The report's ``timeline`` is the time plot: the
        series (the one with the most anomalous window, for several), its per-step error, and every window with
        its score, shaded when above the threshold::

            {"sequence": 0, "sequence_id": "0", "steps": [...], "labels": [...] or None, "features": [...],
             "values": [[...] per feature], "error": [...], "threshold": float,
             "windows": [{"start", "end", "score", "over", "id"}, ...], "downsampled": bool}

        ``labels`` and ``predictions`` are accepted for the checker's common signature; sequence checks do not use
        them.
        """
        self.require_fitted()
        x = self._prepare(batch)
        n_seq, length = x.shape[0], x.shape[1]
        step_labels, seq_ids = self._ids(ids, n_seq, length)
        integrity = self.integrity.run(x.reshape(-1, x.shape[2])).results if self.integrity else []
        windows, where = self._windows(x, self.window)
        scores = self._combine(*self._raw(windows))[2]
        window_ids = [self._window_id(s, start, seq_ids, step_labels, n_seq) for s, start in where]
        reference = self.calibration_scores[self.score_kind]
        result = drift_test(reference, scores, alpha=alpha, test=test, n_permutations=n_permutations, seed=seed)
        p_values = conformal_p_values(reference, scores)
        threshold = self.threshold
        over = scores > threshold
        worst = np.argsort(-scores, kind="stable")[: max(0, top)]
        maps = self._error_maps(windows[worst]) if len(worst) else np.zeros((0, self.window, x.shape[2]))
        top_samples = [
            AnomalousSample.from_errors(
                id=window_ids[i],
                index=int(i),
                score=float(scores[i]),
                p_value=float(p_values[i]),
                over_threshold=bool(over[i]),
                errors=maps[rank].mean(axis=0),  # per feature: which channel the window got wrong
                feature_names=self.feature_names,
            )
            for rank, i in enumerate(worst)
        ]
        plotted = int(where[worst[0], 0]) if len(worst) else 0
        timeline = self._timeline(x, plotted, where, scores, over, window_ids, seq_ids, step_labels)
        return DriftReport(
            drift=result.drift,
            p_value=result.p_value,
            alpha=alpha,
            test=result.test,
            method=result.method,
            n_permutations=result.n_permutations,
            statistic=result.statistic,
            batch_size=len(scores),
            reference_size=int(reference.size),
            score_kind=self.score_kind,
            threshold=threshold,
            false_alarm_rate=self.false_alarm_rate,
            n_over_threshold=int(over.sum()),
            share_over_threshold=float(over.mean()),
            top=top_samples,
            reference_scores=[float(v) for v in reference],
            batch_scores=[float(v) for v in scores],
            sample_shape=[self.window, int(x.shape[2])],
            feature_names=self.feature_names,
            model_uri=model_uri,
            notes=calibration_notes(len(scores), int(reference.size), alpha, test),
            checks=integrity,
            batch_ids=window_ids,
            timeline=timeline,
        )

    def _ids(self, ids: Sequence[Any] | None, n_seq: int, length: int) -> tuple[list[str] | None, list[str]]:
        if ids is None:
            return None, [str(i) for i in range(n_seq)]
        values = [str(i) for i in ids]
        if n_seq == 1 and len(values) == length:
            return values, ["0"]
        if len(values) == n_seq:
            return None, values
        raise InvalidDataError(
            f"{len(values)} ids for {n_seq} sequence(s) of {length} time steps: give one id per time step of a "
            "series (timestamps), or one per sequence of a batch"
        )

    def _window_id(self, s: int, start: int, seq_ids: list[str], step_labels: list[str] | None, n_seq: int) -> str:
        end = start + self.window - 1
        span = f"{step_labels[start]}..{step_labels[end]}" if step_labels else f"{start}-{end}"
        return f"{seq_ids[s]}:{span}" if n_seq > 1 else span

    def _timeline(
        self,
        x: FloatArray,
        s: int,
        where: npt.NDArray[np.intp],
        scores: npt.NDArray[np.float64],
        over: npt.NDArray[np.bool_],
        window_ids: list[str],
        seq_ids: list[str],
        step_labels: list[str] | None,
    ) -> dict[str, Any]:
        length = x.shape[1]
        error = self._timestep_errors(x[s : s + 1])[0]
        bucket = max(1, math.ceil(length / MAX_POINTS))
        steps = np.arange(0, length, bucket)
        values = [_bucket_mean(x[s, :, f], bucket) for f in range(x.shape[2])]
        names = self.feature_names or [str(f) for f in range(x.shape[2])]
        windows = [
            {
                "start": int(start),
                "end": int(start + self.window),
                "score": _finite(float(scores[i])),
                "over": bool(over[i]),
                "id": window_ids[i],
            }
            for i, (seq, start) in enumerate(where)
            if seq == s
        ]
        return {
            "sequence": s,
            "sequence_id": seq_ids[s],
            "length": int(length),
            "steps": [int(t) for t in steps],
            "labels": [step_labels[int(t)] for t in steps] if step_labels else None,
            "features": list(names),
            "values": [[_finite(float(v)) for v in line] for line in values],
            "error": [_finite(float(v)) for v in _bucket_max(error, bucket)],
            "threshold": _finite(self.threshold),
            "windows": windows,
            "downsampled": bucket > 1,
        }

    # ------------------------------------------------------------------ MLflow

    def log_model(
        self, name: str = "detector", *, registered_model_name: str | None = None, **kwargs: Any
    ) -> DetectorModelInfo:
        """Log to MLflow (see :func:`~scanflow_jupyter.checking.log_detector`)."""
        from .mlflow_model import log_detector

        return log_detector(self, name, registered_model_name=registered_model_name, **kwargs)

    @classmethod
    def load(cls, model_uri: str) -> SequenceDetector:
        """Load a sequence detector logged with :meth:`log_model`."""
        from .mlflow_model import load_detector

        detector = load_detector(model_uri)
        if not isinstance(detector, SequenceDetector):
            raise InvalidDataError(
                f"{model_uri!r} is a {type(detector).__name__}, not a sequence detector: load it with load_detector"
            )
        return detector

    _SETTINGS = (
        "window", "architecture", "train_stride", "code_size", "filters", "units", "neighbors", "false_alarm_rate",
        "block_windows", "checks", "checks_alpha", "epochs", "patience", "batch_size", "learning_rate",
        "validation_fraction", "calibration_fraction", "seed",
    )  # fmt: skip

    def save_files(self, folder: str | Path) -> dict[str, str]:
        """Write the network, ``detector.json`` (``"kind": "sequence"``) and ``reference.npz`` into ``folder``."""
        from .mlflow_model import ARRAYS_FILE, NETWORK_FILE, STATE_FILE, STATE_VERSION

        self.require_fitted()
        assert self.mean is not None and self.std is not None and self.train_codes is not None
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*__array__ implementation doesn't accept a copy", category=DeprecationWarning
            )
            self.model.save(out / NETWORK_FILE)
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "kind": self.kind,
            "settings": {name: getattr(self, name) for name in self._SETTINGS},
            "n_features": self.n_features,
            "feature_names": self.feature_names,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "standardization": {k: list(v) for k, v in self.standardization.items()},
            "thresholds": self.thresholds,
            "facts": self.facts,
        }
        arrays: dict[str, Any] = {f"calibration_{k}": v for k, v in self.calibration_scores.items()}
        if self.integrity is not None:
            state["integrity"], integrity_arrays = self.integrity.to_state()
            arrays.update({f"integrity/{k}": v for k, v in integrity_arrays.items()})
        (out / STATE_FILE).write_text(json.dumps(state, indent=1))
        np.savez(out / ARRAYS_FILE, train_codes=self.train_codes, **arrays)
        return {"network": str(out / NETWORK_FILE), "state": str(out / STATE_FILE), "arrays": str(out / ARRAYS_FILE)}

    @classmethod
    def from_files(cls, folder: Path, state: dict[str, Any]) -> SequenceDetector:
        from .mlflow_model import ARRAYS_FILE, NETWORK_FILE

        settings = dict(state["settings"])
        detector = cls(progress=False, **settings)
        detector.model = keras().saving.load_model(folder / NETWORK_FILE, compile=False)
        detector.n_features = int(state["n_features"])
        detector.feature_names = state.get("feature_names")
        detector.mean = np.asarray(state["mean"], np.float32)
        detector.std = np.asarray(state["std"], np.float32)
        detector.standardization = {k: (float(v[0]), float(v[1])) for k, v in state["standardization"].items()}
        detector.thresholds = {k: float(v) for k, v in state["thresholds"].items()}
        detector.facts = dict(state.get("facts", {}))
        with np.load(folder / ARRAYS_FILE) as arrays:
            detector.train_codes = arrays["train_codes"]
            detector.calibration_scores = {
                k.removeprefix("calibration_"): arrays[k].astype(np.float64)
                for k in arrays.files
                if k.startswith("calibration_")
            }
            if "integrity" in state:
                parts = {k.removeprefix("integrity/"): arrays[k] for k in arrays.files if k.startswith("integrity/")}
                detector.integrity = IntegritySuite.from_state(state["integrity"], parts)
        return detector

    # ------------------------------------------------------------------ internals

    def _prepare(self, series: Any) -> FloatArray:
        self.require_fitted()
        return as_series(
            series, what="the batch", window=self.window, n_features=self.n_features, feature_names=self.feature_names
        )

    def _scale(self, windows: FloatArray) -> FloatArray:
        assert self.mean is not None and self.std is not None
        scaled: FloatArray = np.clip((windows - self.mean) / self.std, -CLIP, CLIP).astype(np.float32)
        return scaled

    def _windows(self, x: FloatArray, stride: int) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        """Windows of every sequence of ``x`` (raw values) and their ``(sequence, start)``."""
        starts = window_starts(x.shape[1], self.window, stride)
        idx = starts[:, None] + np.arange(self.window)[None, :]
        windows = x[:, idx].reshape(-1, self.window, x.shape[2])
        where = np.stack(np.meshgrid(np.arange(x.shape[0]), starts, indexing="ij"), axis=-1).reshape(-1, 2)
        return windows, where.astype(np.intp)

    def _forward_fn(self) -> Any:
        if self._forward is None:
            k = keras()
            import tensorflow as tf

            both = k.Model(self.model.inputs, [self.model.outputs[0], self.model.get_layer(CODE_LAYER).output])
            spec = [tf.TensorSpec((None, self.window, self.n_features), tf.float32)]

            @tf.function(input_signature=spec)  # type: ignore[untyped-decorator]
            def forward(x: Any) -> Any:
                reconstruction, code = both(x, training=False)
                return tf.square(reconstruction - x), code

            self._forward = forward
        return self._forward

    def _error_maps(self, windows: FloatArray) -> npt.NDArray[np.float64]:
        scaled = self._scale(windows)
        parts = [np.asarray(self._forward_fn()(scaled[i : i + _CHUNK])[0]) for i in range(0, len(scaled), _CHUNK)]
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, self.window, self.n_features or 0))

    def _encode(self, windows: FloatArray) -> FloatArray:
        scaled = self._scale(windows)
        parts = [np.asarray(self._forward_fn()(scaled[i : i + _CHUNK])[1]) for i in range(0, len(scaled), _CHUNK)]
        return np.concatenate(parts).astype(np.float32)

    def _raw(self, windows: FloatArray) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        scaled = self._scale(windows)
        errors, codes = [], []
        for i in range(0, len(scaled), _CHUNK):
            error, code = self._forward_fn()(scaled[i : i + _CHUNK])
            errors.append(np.asarray(error).mean(axis=(1, 2)))
            codes.append(np.asarray(code))
        if self._index is None:
            from sklearn.neighbors import NearestNeighbors

            assert self.train_codes is not None
            self._index = NearestNeighbors(n_neighbors=min(self.neighbors, len(self.train_codes))).fit(self.train_codes)
        distances, _ = self._index.kneighbors(np.concatenate(codes))
        return np.concatenate(errors).astype(np.float64), distances.mean(axis=1).astype(np.float64)

    def _combine(
        self, rec: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        z = []
        for kind, values in (("reconstruction", rec), ("latent", lat)):
            mean, std = self.standardization[kind]
            z.append((np.log(values + _EPS) - mean) / std)
        return rec, lat, np.maximum(*z)

    def __repr__(self) -> str:
        if not self.fitted:
            return f"SequenceDetector(window={self.window}, architecture={self.architecture!r}, not fitted)"
        return (
            f"SequenceDetector({self.architecture}, window {self.window}, {self.n_features} features, "
            f"threshold={self.threshold:.4g} at a false-alarm rate of {self.false_alarm_rate:g}, "
            f"{self.facts.get('n_calibration')} calibration windows)"
        )


def _bucket_mean(values: npt.NDArray[Any], bucket: int) -> npt.NDArray[np.float64]:
    if bucket == 1:
        return np.asarray(values, np.float64)
    pad = (-len(values)) % bucket
    padded = np.r_[values, np.full(pad, np.nan)].reshape(-1, bucket)
    return np.asarray(np.nanmean(padded, axis=1), np.float64)


def _bucket_max(values: npt.NDArray[Any], bucket: int) -> npt.NDArray[np.float64]:
    if bucket == 1:
        return np.asarray(values, np.float64)
    pad = (-len(values)) % bucket
    padded = np.r_[values, np.full(pad, -np.inf)].reshape(-1, bucket)
    return np.asarray(padded.max(axis=1), np.float64)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
