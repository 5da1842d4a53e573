"""The batch drift test: valid p-values at every batch size, power against contamination."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from scanflow_jupyter.checking import drift_test
from scanflow_jupyter.checking.drift import TESTS

# How many simulations tell a calibrated test from a broken one. Under no drift the number of alarms X in N
# simulations is Binomial(N, rate). With N = 2500 and the line X <= 300 (a rate of 0.12), from scipy.stats.binom:
#   a calibrated test (rate 0.10: mean 250, sd 15) fails with P(X > 300 | 0.10) = 5e-4;
#   a broken one (rate 0.14: mean 350, sd 17.3) passes with P(X <= 300 | 0.14) = 1.8e-3.
# The old 300 simulations with the line 0.10 + 3 sd (0.152) let a 0.14 rate pass P(X <= 45 | 300, 0.14) = 72% of the
# time. The lower line (X >= 200, rate 0.08) fails a calibrated test with P(X < 200 | 0.10) = 2.6e-4.
# The seed is derived from the case's name with crc32 (stable across processes, unlike hash(), which Python
# randomises per process): each case draws the same numbers on every run, so a failure reproduces.
SIMULATIONS, ALPHA, MOST, LEAST = 2500, 0.1, 300, 200


@pytest.mark.slow
@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("batch", [10, 150])
def test_false_alarm_rate_is_calibrated(test: str, batch: int) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{test}/{batch}".encode()))
    p = np.array(
        [
            drift_test(
                rng.gamma(2.0, size=120), rng.gamma(2.0, size=batch), test=test, n_permutations=99, seed=i
            ).p_value  # type: ignore[arg-type]
            for i in range(SIMULATIONS)
        ]
    )
    alarms = int((p <= ALPHA).sum())  # B = 99 permutations: p <= 0.1 has probability exactly 0.1 under no drift
    assert alarms <= MOST, f"{alarms} false alarms in {SIMULATIONS} (rate {alarms / SIMULATIONS:.3f} > {ALPHA})"
    # Not needlessly conservative either: a valid test that never fires would pass the line above. KS on a batch
    # of 10 is conservative by construction (its statistic takes few values, so p-values tie): 0.08 measured.
    least = LEAST - (75 if test == "ks" else 0)
    assert alarms >= least, f"{alarms} false alarms in {SIMULATIONS}: the test is too conservative"


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
