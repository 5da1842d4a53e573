"""Per-sample calibration: a threshold and p-values from scores of held-out reference samples.

Both are split-conformal: the calibration samples were not used to train the network, so a new sample drawn
from the reference distribution is exchangeable with them, and the guarantees below hold for any score and any
number of calibration samples (no normality, no large-sample approximation).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..errors import CheckerSettingsError

__all__ = ["conformal_p_values", "conformal_threshold", "min_calibration_samples"]


def min_calibration_samples(false_alarm_rate: float) -> int:
    """The fewest calibration scores for which a finite threshold at ``false_alarm_rate`` exists.

    The threshold is the ``ceil((n + 1)(1 - rate))``-th smallest of ``n`` scores, which exists when that rank is at
    most ``n``, that is when ``n >= (1 - rate) / rate`` (19 at 5%, 99 at 1%).
    """
    if not 0.0 < false_alarm_rate < 1.0:
        raise CheckerSettingsError(f"false_alarm_rate must lie strictly between 0 and 1, got {false_alarm_rate}")
    return math.ceil((1.0 - false_alarm_rate) / false_alarm_rate - 1e-9)


def conformal_threshold(calibration_scores: npt.ArrayLike, false_alarm_rate: float) -> float:
    """The score above which a sample is flagged, for at most ``false_alarm_rate`` false alarms.

    With ``n`` calibration scores, the threshold is the ``k = ceil((n + 1)(1 - rate))``-th smallest. For a new
    sample from the reference distribution, ``P(score > threshold) <= rate`` (and ``>= rate - 1/(n + 1)``): the
    finite-sample correction that a plain ``(1 - rate)`` quantile lacks.

    Example
    -------
    >>> conformal_threshold(np.arange(1.0, 20.0), 0.05)   # 19 scores: the largest
    19.0
    """
    scores = np.sort(np.asarray(calibration_scores, dtype=np.float64).ravel())
    n = scores.size
    need = min_calibration_samples(false_alarm_rate)
    if n < need:
        raise CheckerSettingsError(
            f"{n} calibration scores cannot give a threshold at {false_alarm_rate:g}: need {need}"
        )
    k = math.ceil((n + 1) * (1.0 - false_alarm_rate) - 1e-9)
    return float(scores[k - 1])


def conformal_p_values(calibration_scores: npt.ArrayLike, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Per-sample p-values: ``(1 + #{calibration >= s}) / (n + 1)``.

    For a sample from the reference distribution, ``P(p <= a) <= a`` for every ``a``; small values mean the
    sample scores higher than almost all held-out reference samples.

    Example
    -------
    >>> conformal_p_values([1.0, 2.0, 3.0], [0.5, 2.5, 9.0]).tolist()
    [1.0, 0.5, 0.25]
    """
    reference = np.sort(np.asarray(calibration_scores, dtype=np.float64).ravel())
    values = np.asarray(scores, dtype=np.float64).ravel()
    at_least = reference.size - np.searchsorted(reference, values, side="left")
    return np.asarray((1.0 + at_least) / (reference.size + 1.0), dtype=np.float64)
