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

__all__ = ["AnomalousSample", "DriftReport"]

TOP_FEATURES = 5


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

    @property
    def verdict(self) -> str:
        return "drift" if self.drift else "no drift"

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
        data["verdict"] = self.verdict
        data["top_ids"] = self.top_ids
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        fields = {k: v for k, v in data.items() if k not in ("verdict", "top_ids")}
        fields["top"] = [
            AnomalousSample(**{**s, "top_features": [tuple(t) for t in s["top_features"]]}) for s in data["top"]
        ]
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
                *(f"note: {note}" for note in self.notes),
            ]
        )

    def __str__(self) -> str:
        return self.summary()
