"""The marginal score: per-feature upper-tail surprise against the reference's values (no network)."""

from __future__ import annotations

import numpy as np
import pytest

from scanflow_jupyter.checking import marginal
from scanflow_jupyter.checking.marginal import MarginalTails


@pytest.fixture
def reference() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(400, 6)).astype(np.float32)


def test_a_sample_far_outside_scores_above_every_reference_sample(reference: np.ndarray) -> None:
    tails = MarginalTails.fit(reference)
    far = reference.max(axis=0, keepdims=True) + 10.0
    # Above every value of every feature: log((n + 1) / 2) per feature, the most the score gives.
    assert tails.surprise(far)[0] == pytest.approx(6 * np.log(401 / 2))
    fresh = np.random.default_rng(1).normal(size=(400, 6)).astype(np.float32)
    assert tails.surprise(far)[0] > tails.surprise(fresh).max()
    assert tails.surprise(reference).max() < tails.surprise(far)[0]


def test_values_at_most_the_median_score_zero(reference: np.ndarray) -> None:
    tails = MarginalTails.fit(reference)
    low = np.median(reference, axis=0, keepdims=True) - np.r_[0.0, 0.5, 1.0, 2.0, 3.0, 100.0].astype(np.float32)
    assert tails.surprise(low).tolist() == [0.0]


def test_raising_one_feature_never_lowers_the_score(reference: np.ndarray) -> None:
    tails = MarginalTails.fit(reference)
    sample = np.random.default_rng(2).normal(size=(1, 6)).astype(np.float32)
    steps = []
    for value in np.linspace(-3, 3, 25, dtype=np.float32):
        moved = sample.copy()
        moved[0, 2] = value
        steps.append(float(tails.surprise(moved)[0]))
    assert steps == sorted(steps) and steps[-1] > steps[0]


def test_invariant_to_a_monotone_rescaling_of_a_feature(reference: np.ndarray) -> None:
    samples = np.random.default_rng(3).normal(size=(200, 6)).astype(np.float32) * 1.5
    before = MarginalTails.fit(reference).surprise(samples)

    def rescale(a: np.ndarray) -> np.ndarray:
        out = a.copy()
        out[:, 1] = np.exp(out[:, 1]) * 100.0  # strictly increasing: the same ranks
        return out

    after = MarginalTails.fit(rescale(reference)).surprise(rescale(samples))
    assert np.allclose(before, after)


def test_images_are_scored_per_pixel_and_survive_the_arrays(reference: np.ndarray) -> None:
    images = np.random.default_rng(4).random((100, 4, 4)).astype(np.float32)
    tails = MarginalTails.fit(images)
    assert tails.upper.shape == (51, 16) and tails.n == 100
    again = MarginalTails.from_arrays(tails.to_arrays())
    assert again is not None and np.array_equal(again.surprise(images[:5]), tails.surprise(images[:5]))
    assert MarginalTails.from_arrays({"input_points": np.zeros(3)}) is None


def test_the_kept_upper_half_scores_as_the_whole_reference(reference: np.ndarray) -> None:
    tails = MarginalTails.fit(reference)
    samples = np.random.default_rng(5).normal(size=(300, 6)).astype(np.float32) * 2.0
    ordered = np.sort(reference, axis=0)
    at_least = len(reference) - np.stack(
        [np.searchsorted(ordered[:, j], samples[:, j], side="left") for j in range(6)], axis=1
    )
    p = np.minimum(1.0, 2.0 * (1.0 + at_least) / (len(reference) + 1.0))
    assert np.allclose(tails.surprise(samples), -np.log(p).sum(axis=1))


def test_a_large_reference_is_subsampled(monkeypatch: pytest.MonkeyPatch, reference: np.ndarray) -> None:
    monkeypatch.setattr(marginal, "MAX_REFERENCE", 50)
    tails = MarginalTails.fit(reference, seed=1)
    assert tails.upper.shape == (26, 6) and tails.n == 50
    assert np.array_equal(tails.upper, MarginalTails.fit(reference, seed=1).upper)
    assert (np.diff(tails.upper, axis=0) >= 0).all()
