"""The batch drift test: valid p-values at every batch size, power against contamination."""

from __future__ import annotations

import numpy as np
import pytest

from scanflow_jupyter.checking import drift_test
from scanflow_jupyter.checking.drift import TESTS


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("batch", [10, 150])
def test_false_alarm_rate_is_calibrated(test: str, batch: int) -> None:
    rng = np.random.default_rng(hash((test, batch)) % 2**32)
    sims, alpha = 300, 0.1
    p = np.array(
        [
            drift_test(
                rng.gamma(2.0, size=120), rng.gamma(2.0, size=batch), test=test, n_permutations=199, seed=i
            ).p_value  # type: ignore[arg-type]
            for i in range(sims)
        ]
    )
    alarms = float((p <= alpha).mean())
    assert alarms <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / sims)
    # Not needlessly conservative either: a valid test that never fires would pass the line above.
    assert alarms >= alpha - 3 * np.sqrt(alpha * (1 - alpha) / sims) - (0.03 if test == "ks" else 0.0)


def test_ties_do_not_inflate_false_alarms() -> None:
    rng = np.random.default_rng(3)
    p = np.array(
        [
            drift_test(rng.integers(0, 4, 100), rng.integers(0, 4, 50), n_permutations=199, seed=i).p_value
            for i in range(300)
        ]
    )
    assert (p <= 0.1).mean() <= 0.1 + 3 * np.sqrt(0.09 / 300)


@pytest.mark.parametrize("test", TESTS)
def test_detects_a_contaminated_batch(test: str) -> None:
    rng = np.random.default_rng(4)
    batch = np.r_[rng.normal(size=180), rng.normal(size=20) + 4.0]  # 10% far in the tail
    result = drift_test(rng.normal(size=500), batch, test=test)  # type: ignore[arg-type]
    assert result.drift and result.p_value <= 0.05
    assert result.method == "permutation" and result.n_permutations == 1999


def test_tail_weighted_test_is_the_most_powerful_against_a_few_anomalies() -> None:
    rng = np.random.default_rng(5)
    hits = dict.fromkeys(TESTS, 0)
    for i in range(60):
        reference = rng.normal(size=400)
        batch = np.r_[rng.normal(size=190), rng.normal(size=10) + 3.0]
        for test in TESTS:
            hits[test] += drift_test(reference, batch, test=test, n_permutations=199, seed=i).drift  # type: ignore[arg-type]
    assert hits["savage"] >= max(hits["mann-whitney"], hits["ks"])


def test_lower_scores_are_not_drift() -> None:
    rng = np.random.default_rng(6)
    result = drift_test(rng.normal(size=300), rng.normal(size=100) - 2.0)
    assert not result.drift and result.p_value > 0.5


def test_seeded_p_values_reproduce() -> None:
    rng = np.random.default_rng(7)
    reference, batch = rng.normal(size=300), rng.normal(size=100) + 0.2
    assert drift_test(reference, batch, seed=11) == drift_test(reference, batch, seed=11)


@pytest.mark.parametrize("test", TESTS)
def test_asymptotic_path_agrees_with_permutations(test: str) -> None:
    rng = np.random.default_rng(8)
    reference, batch = rng.normal(size=2000), rng.normal(size=500) + 0.1
    exact = drift_test(reference, batch, test=test, n_permutations=4999)  # type: ignore[arg-type]
    approx = drift_test(reference, batch, test=test, max_work=1)  # type: ignore[arg-type]
    assert approx.method == "asymptotic" and approx.n_permutations == 0
    assert approx.p_value == pytest.approx(exact.p_value, abs=0.03 if test != "ks" else 0.08)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test": "t-test"}, "unknown drift test 't-test'"),
        ({"alpha": 0.0}, "alpha must lie strictly between 0 and 1"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        drift_test([1.0, 2.0], [3.0], **kwargs)  # type: ignore[arg-type]


def test_empty_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one reference score and one batch score"):
        drift_test([1.0, 2.0], [])
