"""``DriftReport``: the outcome of checking one batch, as plain data.

Everything in it is a number, a string, a bool or a (nested) list, so it goes to JSON (an MLflow artifact, a
widget's state, an agent's decision record) and back unchanged. The DriftReport widget and ``%scanflow check``
render it; :meth:`DriftReport.histograms` gives them reference and batch histograms on shared bins.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .checks.base import CheckResult

__all__ = ["AnomalousSample", "DriftReport", "calibration_notes"]

TOP_FEATURES = 5
# Calibration samples per batch sample below which a report says so: a set smaller than the batch makes this one
# set's false-alarm rate noticeably uncertain. (Ten times, as it was, put the note on nearly every report.)
SMALL_REFERENCE = 1


def calibration_notes(batch_size: int, reference_size: int, alpha: float = 0.05, test: str = "tail") -> list[str]:
    """The caveat a report carries when its calibration set is smaller than the batch: the spread of one fixed
    calibration set's own false-alarm rate (simulated for these sizes, see
    :func:`~scanflow_jupyter.checking.drift.fixed_reference_spread`)."""
    if reference_size >= SMALL_REFERENCE * batch_size:
        return []
    from .drift import fixed_reference_spread

    low, _, high = fixed_reference_spread(reference_size, batch_size, alpha, test)
    return [
        f"the calibration set ({reference_size} samples) is smaller than the batch "
        f"({batch_size}): the false-alarm rate is {alpha:.0%} on average over calibration sets, but one set's own "
        f"rate varies: for sets of this size, 8 in 10 lie between {low:.1%} and {high:.1%} (simulated); fit on "
        "more reference data (or check smaller batches) for a tighter one"
    ]


@dataclass(frozen=True)
class AnomalousSample:
    """One of a batch's highest-scoring samples.

    ``feature_errors`` is the squared reconstruction error of every feature, shaped like a sample (an error
    heatmap for images); ``top_features`` names the few features with the largest errors (for tabular data).
    """

    id: str
    index: int
    score: float
    p_value: float
    over_threshold: bool
    feature_errors: list[Any]
    top_features: list[tuple[str, float]]

    @classmethod
    def from_errors(
        cls,
        *,
        id: str,
        index: int,
        score: float,
        p_value: float,
        over_threshold: bool,
        errors: npt.NDArray[Any],
        feature_names: Sequence[str] | None = None,
    ) -> AnomalousSample:
        flat = np.asarray(errors, dtype=np.float64).ravel()
        worst = np.argsort(-flat, kind="stable")[:TOP_FEATURES]
        shape = np.asarray(errors).shape
        names = [
            feature_names[i] if feature_names is not None else ",".join(map(str, np.unravel_index(i, shape)))
            for i in worst
        ]
        return cls(
            id=id,
            index=index,
            score=score,
            p_value=p_value,
            over_threshold=over_threshold,
            feature_errors=np.asarray(errors, dtype=np.float64).tolist(),
            top_features=[(name, float(flat[i])) for name, i in zip(names, worst, strict=True)],
        )


@dataclass(frozen=True)
class DriftReport:
    """A batch's verdict, its evidence and its most anomalous samples.

    Attributes
    ----------
    drift
        The verdict: ``p_value <= alpha``.
    p_value
        The drift test's p-value (valid at every batch size; see :mod:`scanflow_jupyter.checking.drift`).
    share_over_threshold
        Share of the batch scoring above the per-sample threshold; about ``false_alarm_rate`` (at most) under
        no drift.
    top
        The highest-scoring samples, most anomalous first.
    reference_scores, batch_scores
        The calibration scores and the batch's scores, for histograms.
    notes
        Caveats a reader should see beside the verdict (a small calibration set, say).
    checks
        The integrity checks' results (schema, ranges, missing values, ...); see :attr:`failed_checks`.
    batch_ids
        The id of every scored sample, in the order of ``batch_scores`` (for sequences: the windows).
    timeline
        For a sequence batch, the time plot: see :meth:`SequenceDetector.check
        <scanflow_jupyter.checking.SequenceDetector.check>`; None for other data.
    """

    drift: bool
    p_value: float
    alpha: float
    test: str
    method: str
    n_permutations: int
    statistic: float
    batch_size: int
    reference_size: int
    score_kind: str
    threshold: float
    false_alarm_rate: float
    n_over_threshold: int
    share_over_threshold: float
    top: list[AnomalousSample]
    reference_scores: list[float]
    batch_scores: list[float]
    sample_shape: list[int]
    feature_names: list[str] | None = None
    model_uri: str | None = None
    notes: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    batch_ids: list[str] | None = None
    timeline: dict[str, Any] | None = None

    @property
    def verdict(self) -> str:
        return "drift" if self.drift else "no drift"

    @property
    def failed_checks(self) -> list[str]:
        """The names of the integrity checks that failed on this batch."""
        return [c.check for c in self.checks if not c.passed]

    @property
    def checks_passed(self) -> bool:
        return not self.failed_checks

    @property
    def top_ids(self) -> list[str]:
        return [sample.id for sample in self.top]

    def histograms(self, bins: int = 30) -> dict[str, list[float] | list[int]]:
        """Reference and batch score histograms on shared bin edges (counts, not densities)."""
        both = np.asarray(self.reference_scores + self.batch_scores + [self.threshold], dtype=np.float64)
        edges = np.histogram_bin_edges(both, bins=bins)
        return {
            "edges": [float(e) for e in edges],
            "reference": [int(c) for c in np.histogram(self.reference_scores, bins=edges)[0]],
            "batch": [int(c) for c in np.histogram(self.batch_scores, bins=edges)[0]],
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [c.to_dict() for c in self.checks]
        data["verdict"] = self.verdict
        data["top_ids"] = self.top_ids
        data["failed_checks"] = self.failed_checks
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        fields = {k: v for k, v in data.items() if k not in ("verdict", "top_ids", "failed_checks")}
        fields["top"] = [
            AnomalousSample(**{**s, "top_features": [tuple(t) for t in s["top_features"]]}) for s in data["top"]
        ]
        fields["checks"] = [CheckResult.from_dict(c) for c in data.get("checks", [])]
        return cls(**fields)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def summary(self) -> str:
        """A few lines a person reads: the verdict, its p-value, the threshold share and the top ids."""
        ids = ", ".join(self.top_ids[:5]) + (", ..." if len(self.top) > 5 else "")
        return "\n".join(
            [
                f"{self.verdict.upper()}: p = {self.p_value:.4g} ({self.test} test, alpha {self.alpha:g}, "
                f"{self.batch_size} samples against {self.reference_size} held-out reference samples)",
                f"{self.n_over_threshold} of {self.batch_size} samples ({self.share_over_threshold:.1%}) score above "
                f"the threshold {self.threshold:.4g} ({self.false_alarm_rate:.0%} expected without drift)",
                f"most anomalous: {ids}" if self.top else "most anomalous: (none requested)",
                *self._check_lines(),
                *(f"note: {note}" for note in self.notes),
            ]
        )

    def _check_lines(self) -> list[str]:
        ran = [c for c in self.checks if not c.skipped]
        if not ran:
            return []
        if self.checks_passed:
            return [f"integrity: {len(ran)} checks passed ({', '.join(c.check for c in ran)})"]
        return [
            f"integrity: {len(self.failed_checks)} of {len(ran)} checks FAILED",
            *(f"  {c.message}" for c in self.checks if not c.passed),
        ]

    def __str__(self) -> str:
        return self.summary()
