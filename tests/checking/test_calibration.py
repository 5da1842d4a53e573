"""Per-sample calibration: the conformal threshold and p-values keep their false-alarm promise."""

from __future__ import annotations

import numpy as np
import pytest

from scanflow_jupyter.checking import conformal_p_values, conformal_threshold, min_calibration_samples


@pytest.mark.parametrize(("rate", "need"), [(0.05, 19), (0.01, 99), (0.1, 9), (0.2, 4)])
def test_min_calibration_samples(rate: float, need: int) -> None:
    assert min_calibration_samples(rate) == need
    conformal_threshold(np.arange(need, dtype=float), rate)  # enough
    with pytest.raises(ValueError, match=f"need {need}"):
        conformal_threshold(np.arange(need - 1, dtype=float), rate)


def test_threshold_is_the_finite_sample_corrected_order_statistic() -> None:
    scores = np.arange(1.0, 100.0)  # 99 scores
    # k = ceil(100 * 0.95) = 95: the 95th smallest, where a plain 95% quantile would interpolate near 94.1.
    assert conformal_threshold(scores, 0.05) == 95.0
    assert conformal_threshold(np.arange(1.0, 20.0), 0.05) == 19.0


@pytest.mark.parametrize("rate", [0.05, 0.1])
def test_threshold_false_alarm_rate_holds_over_calibration_sets(rate: float) -> None:
    rng = np.random.default_rng(0)
    n, sims = 49, 4000
    calibration = rng.lognormal(size=(sims, n))
    new = rng.lognormal(size=sims)
    thresholds = np.array([conformal_threshold(c, rate) for c in calibration])
    alarms = float((new > thresholds).mean())
    # Guarantee: rate - 1/(n + 1) <= P(alarm) <= rate; allow three standard errors of simulation noise.
    slack = 3 * np.sqrt(rate * (1 - rate) / sims)
    assert rate - 1 / (n + 1) - slack <= alarms <= rate + slack


def test_p_values_are_valid_and_ordered() -> None:
    rng = np.random.default_rng(1)
    # Validity is over calibration sets: a fresh one for every new sample.
    sims = 4000
    p = np.array([conformal_p_values(rng.normal(size=99), rng.normal(size=1))[0] for _ in range(sims)])
    assert ((p > 0) & (p <= 1)).all()
    for level in (0.01, 0.05, 0.2):
        assert (p <= level).mean() <= level + 3 * np.sqrt(level / sims)
    calibration = rng.normal(size=200)
    assert conformal_p_values(calibration, [10.0])[0] == pytest.approx(1 / 201)
    assert conformal_p_values(calibration, [-10.0])[0] == 1.0


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, 1.5])
def test_rate_out_of_range(rate: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        min_calibration_samples(rate)
