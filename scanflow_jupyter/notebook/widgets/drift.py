"""The drift report of a checked batch: the Python model of ``labextension/src/widgets/drift.ts``.

It shows the verdict, histograms of the reference (calibration) scores and the batch's scores with the
threshold, and the batch's most anomalous samples: for images, the sample beside its reconstruction-error
heatmap; for tabular data, its most deviant features; for a sequence batch, a time plot of the series with its
per-step error and the windows above the threshold shaded. Then the integrity checks, each passed or failed with
its message. The view draws the histograms itself; the report's score lists never cross the wire, only the counts
on shared bins.

Example
-------
>>> from scanflow_jupyter.notebook import DriftReportView
>>> report = detector.check(batch, ids=ids)                          # doctest: +SKIP
>>> DriftReportView(report, samples=batch, image_shape=(8, 8))       # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np
from traitlets import Dict, Int, List, Unicode

from ...checking.report import DriftReport
from ...errors import InvalidDataError
from .base import ScanflowWidget

__all__ = ["DriftReportView"]

HISTOGRAM_BINS = 30


class SampleCard(TypedDict):
    """One value of the ``samples`` trait: a most anomalous sample, flattened for the view."""

    id: str
    index: int
    score: float
    p_value: float
    over_threshold: bool
    errors: list[float]
    values: list[float] | None
    top_features: list[tuple[str, float]]


def _finite(value: float) -> float | None:
    # JSON has no NaN or infinity; a p-value or a score that is not finite is shown as "n/a".
    return value if math.isfinite(value) else None


class DriftReportView(ScanflowWidget):
    """A checked batch, drawn: verdict, score histograms with the threshold, the most anomalous samples.

    Parameters
    ----------
    report
        What :meth:`AutoencoderDetector.check <scanflow_jupyter.checking.AutoencoderDetector.check>` returned.
    samples
        The batch that was checked (optional): with it, image samples are drawn beside their error heatmaps
        and tabular ones list their values next to their errors.
    image_shape
        Draw samples as images of this shape (height, width): for images fed as flat vectors, such as
        scikit-learn's 8x8 digits. Samples of two axes or more are images anyway.
    """

    _model_name = Unicode("DriftReportModel").tag(sync=True)
    _view_name = Unicode("DriftReportView").tag(sync=True)

    summary = Dict(help="Verdict, p-value, test, sizes, threshold and notes (see PROTOCOL.md).").tag(sync=True)
    histogram = Dict(help="edges, reference and batch counts on shared bins.").tag(sync=True)
    samples = List(Dict(), help="The most anomalous samples, most anomalous first.").tag(sync=True)
    image_shape = List(Int(), help="(height, width) to draw samples as images; empty for tabular data.").tag(sync=True)
    feature_names = List(Unicode(), help="Feature names of tabular samples (may be empty).").tag(sync=True)
    checks = List(Dict(), help="Integrity checks: check, passed, skipped, message.").tag(sync=True)
    timeline = Dict(help="A sequence batch's time plot (empty for other data); see PROTOCOL.md.").tag(sync=True)

    def __init__(
        self,
        report: DriftReport,
        *,
        samples: Any = None,
        image_shape: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._report = report
        size = int(np.prod(report.sample_shape)) if report.sample_shape else 0
        # A sequence report's windows are drawn in its time plot, never as images.
        shape = [] if report.timeline else _image_shape(report.sample_shape, image_shape, size)
        values = _sample_values(report, samples)
        self.image_shape = shape
        self.feature_names = list(report.feature_names or [])
        self.histogram = report.histograms(HISTOGRAM_BINS)
        self.summary = {
            "verdict": report.verdict,
            "drift": report.drift,
            "p_value": _finite(report.p_value),
            "alpha": report.alpha,
            "test": report.test,
            "method": report.method,
            "batch_size": report.batch_size,
            "reference_size": report.reference_size,
            "score_kind": report.score_kind,
            "threshold": _finite(report.threshold),
            "false_alarm_rate": report.false_alarm_rate,
            "n_over_threshold": report.n_over_threshold,
            "share_over_threshold": report.share_over_threshold,
            "model_uri": report.model_uri or "",
            "notes": list(report.notes),
        }
        cards: list[SampleCard] = []
        for sample in report.top:
            errors = np.asarray(sample.feature_errors, dtype=np.float64).ravel()
            cards.append(
                {
                    "id": sample.id,
                    "index": sample.index,
                    "score": float(sample.score),
                    "p_value": float(sample.p_value),
                    "over_threshold": bool(sample.over_threshold),
                    "errors": [float(e) for e in np.nan_to_num(errors)],
                    "values": values.get(sample.index),
                    "top_features": [(str(n), float(e)) for n, e in sample.top_features],
                }
            )
        self.samples = [dict(card) for card in cards]
        self.checks = [
            {"check": c.check, "passed": c.passed, "skipped": c.skipped, "message": c.message} for c in report.checks
        ]
        self.timeline = dict(report.timeline or {})

    @property
    def report(self) -> DriftReport:
        """The report drawn."""
        return self._report

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = self._report.summary()  # what a frontend without the widget (or a saved file) shows
        return data

    def __repr__(self) -> str:
        return f"DriftReportView(verdict={self._report.verdict!r}, p_value={self._report.p_value:.4g})"


def _image_shape(sample_shape: Sequence[int], requested: Sequence[int] | None, size: int) -> list[int]:
    if requested is not None:
        shape = [int(n) for n in requested]
        if len(shape) not in (2, 3) or any(n < 1 for n in shape) or int(np.prod(shape)) != size:
            raise InvalidDataError(
                f"image_shape {tuple(shape)} does not fit samples of shape {tuple(sample_shape)} ({size} values): "
                "give (height, width) or (height, width, channels) whose product is the number of values"
            )
        return shape[:2] if len(shape) == 2 or shape[2] == 1 else []
    if len(sample_shape) == 2 or (len(sample_shape) == 3 and sample_shape[2] == 1):
        return [int(sample_shape[0]), int(sample_shape[1])]
    return []


def _sample_values(report: DriftReport, samples: Any) -> dict[int, list[float] | None]:
    """The flattened values of the report's top samples, by their index in the batch."""
    if samples is None:
        return {}
    array = np.asarray(samples, dtype=np.float64)
    if len(array) != report.batch_size or list(array.shape[1:]) != list(report.sample_shape):
        raise InvalidDataError(
            f"samples of shape {array.shape} are not the batch the report checked ({report.batch_size} samples "
            f"of shape {tuple(report.sample_shape)}): pass the same batch you gave detector.check"
        )
    return {s.index: [float(v) for v in np.nan_to_num(array[s.index].ravel())] for s in report.top}
