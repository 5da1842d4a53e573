"""The hybrid ranker's neighbourhood uncertainty: the same measures as modAL's, smoothed over pool neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from scanflow_jupyter.active.rankers import HybridRanker, measure_of, pool_neighbors, typicality, uncertainty
from scanflow_jupyter.errors import RankerError


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
    return LogisticRegression().fit(x, y), x


@pytest.mark.parametrize("measure", ["margin", "entropy", "least_confidence"])
def test_measures_match_modal(fitted: tuple[LogisticRegression, np.ndarray], measure: str) -> None:
    model, x = fitted
    np.testing.assert_allclose(measure_of(model.predict_proba(x), measure), uncertainty(model, x, measure))  # type: ignore[arg-type]


def test_without_smoothing_the_hybrid_ranks_by_the_samples_own_uncertainty(
    fitted: tuple[LogisticRegression, np.ndarray],
) -> None:
    model, x = fitted
    plain = HybridRanker(smoothing=0.0, seed=0).pick(model, x, np.arange(len(x)), 5)
    for pick in plain:
        assert pick.why["margin"] == pytest.approx(float(uncertainty(model, x[[pick.index]], "margin")[0]))


def test_by_default_the_hybrid_smooths_half_and_spreads_the_batch_over_as_many_clusters(
    fitted: tuple[LogisticRegression, np.ndarray],
) -> None:
    model, x = fitted
    ranker = HybridRanker(seed=0)
    assert ranker.smoothing == 0.5
    candidates = np.arange(len(x))
    picks = ranker.pick(model, x, candidates, 8)
    assert len(picks) == len({p.index for p in picks}) == 8
    # One pick per cluster of the 40 best (shortlist 5 x 8): never two of one cluster, so never the 8 best alone
    # when those crowd one region.
    scores = ranker._uncertainty(model, x, candidates) * ranker._typical(x) ** ranker.density_power
    best = set(np.argsort(-scores, kind="stable")[:40].tolist())
    assert {p.index for p in picks} <= best


def test_smoothing_averages_the_neighbours_probabilities(fitted: tuple[LogisticRegression, np.ndarray]) -> None:
    model, x = fitted
    _, rows = pool_neighbors(x)
    assert rows.shape == (400, 10) and not (rows == np.arange(400)[:, None]).any()  # never the sample itself
    candidates = np.arange(0, 400, 7)
    ranker = HybridRanker(smoothing=0.5, seed=0)
    p = model.predict_proba(x)
    expected = measure_of(0.5 * p[candidates] + 0.5 * p[rows[candidates]].mean(axis=1), "margin")
    np.testing.assert_allclose(ranker._uncertainty(model, x, candidates), expected)
    assert typicality(x) == pytest.approx(pool_neighbors(x)[0])


def test_smoothing_out_of_range_is_refused() -> None:
    with pytest.raises(RankerError, match=r"smoothing must lie in \[0, 1\], got 1.5"):
        HybridRanker(smoothing=1.5)
