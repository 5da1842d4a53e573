"""A batch drift test: are a batch's scores higher than held-out reference scores?

The test is a permutation test on the pooled scores. Under no drift, the batch and the calibration samples are
exchangeable (neither was used to train the network), so every split of the pooled scores into a batch-sized
part and the rest is equally likely. The p-value ``(1 + #{T_perm >= T}) / (B + 1)`` over ``B`` random splits is
then valid for any batch size, any reference size and any score distribution: at level ``alpha`` the false-alarm
rate is at most ``alpha`` (exactly ``alpha`` when ``alpha (B + 1)`` is a whole number and scores do not tie).
Small batches give less power, never more false alarms: the verdict accounts for batch size by construction.

The statistics are one-sided (drift makes scores higher):

- ``tail`` (the detectors' default): the Savage scores truncated to the pooled top ``TAIL`` (10%): each score
  minus the score at the pooled 90th percentile, and 0 below it (a truncated product of conformal p-values, as
  in Zaykin's method). Only the upper tail counts, so a few anomalous samples in a large batch are not diluted by
  the rest: on digits, with 5% of a batch from a new class, it found 88% of drifting batches against 67% for
  ``savage`` (``benchmarks/README.md``).
- ``savage`` (this function's default): the sum of the batch's Savage (exponential) scores of the pooled ranks.
  It weighs the upper tail most, the locally most powerful rank test for a shift of the whole distribution.
- ``mann-whitney``: the sum of the batch's ranks; best for a shift of the whole batch.
- ``ks``: the one-sided Kolmogorov-Smirnov distance between the two empirical distributions.

Above ``max_work`` (reference + batch size times ``B``), the linear rank statistics use their exact permutation
mean and variance with a normal approximation, and ``ks`` its asymptotic distribution; ``method`` in the result
says which was used.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..errors import CheckerSettingsError

__all__ = ["DriftTestResult", "drift_test", "fixed_reference_spread"]

TestName = Literal["tail", "savage", "mann-whitney", "ks"]
TESTS: tuple[str, ...] = ("tail", "savage", "mann-whitney", "ks")
TAIL = 0.1  # the pooled share of the upper tail the ``tail`` test scores
_CHUNK_CELLS = 2_000_000  # random keys drawn at once (16 MB of float64)


@dataclass(frozen=True)
class DriftTestResult:
    """The outcome of :func:`drift_test`; ``drift`` is ``p_value <= alpha``."""

    test: str
    method: str
    statistic: float
    p_value: float
    alpha: float
    drift: bool
    n_reference: int
    n_batch: int
    n_permutations: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def drift_test(
    reference_scores: npt.ArrayLike,
    batch_scores: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    test: TestName = "savage",
    n_permutations: int = 1999,
    seed: int | None = 0,
    max_work: float = 5e7,
) -> DriftTestResult:
    """Test whether ``batch_scores`` are stochastically larger than ``reference_scores``.

    Parameters
    ----------
    reference_scores
        Scores of held-out reference samples (a detector's calibration scores).
    batch_scores
        Scores of the batch to check.
    alpha
        The false-alarm rate per batch: drift is declared when ``p_value <= alpha``.
    test
        ``tail`` (the upper tail's Savage scores), ``savage`` (tail-weighted ranks), ``mann-whitney`` (ranks) or
        ``ks``.
    n_permutations
        Random splits drawn; 1999 makes ``alpha (B + 1)`` whole for the usual levels.
    seed
        Seed of the random splits, so a p-value can be reproduced.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> result = drift_test(rng.normal(size=500), rng.normal(size=200) + 0.5)
    >>> result.drift, result.p_value < 0.001
    (True, True)
    """
    if test not in TESTS:
        raise CheckerSettingsError(f"unknown drift test {test!r}: use one of {', '.join(TESTS)}")
    if not 0.0 < alpha < 1.0:
        raise CheckerSettingsError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    reference = np.asarray(reference_scores, dtype=np.float64).ravel()
    batch = np.asarray(batch_scores, dtype=np.float64).ravel()
    if reference.size == 0 or batch.size == 0:
        raise CheckerSettingsError("drift_test needs at least one reference score and one batch score")
    n, m = reference.size, batch.size
    pooled = np.concatenate([reference, batch])
    exact = n_permutations > 0 and (n + m) * n_permutations <= max_work
    rng = np.random.default_rng(seed)
    if test == "ks":
        statistic = _ks_plus(pooled, np.arange(n, n + m)[None, :], n, m)[0]
        if exact:
            perms = _permuted_ks(pooled, n, m, n_permutations, rng)
            p_value = _permutation_p(perms, statistic)
        else:
            p_value = min(1.0, math.exp(-2.0 * statistic**2 * n * m / (n + m)))
    else:
        weights = _rank_scores(pooled, test)
        statistic = float(weights[n:].sum())
        if exact:
            perms = _permuted_sums(weights, m, n_permutations, rng)
            p_value = _permutation_p(perms, statistic)
        else:
            mean = m * weights.mean()
            var = m * n / ((n + m) * (n + m - 1)) * float(((weights - weights.mean()) ** 2).sum())
            z = (statistic - mean) / math.sqrt(var) if var > 0 else 0.0
            p_value = 0.5 * math.erfc(z / math.sqrt(2.0))
    return DriftTestResult(
        test=test,
        method="permutation" if exact else "asymptotic",
        statistic=float(statistic),
        p_value=float(p_value),
        alpha=alpha,
        drift=bool(p_value <= alpha),
        n_reference=n,
        n_batch=m,
        n_permutations=n_permutations if exact else 0,
    )


def _rank_scores(pooled: npt.NDArray[np.float64], test: str) -> npt.NDArray[np.float64]:
    """Score of each pooled value from its rank (ascending), averaged over ties."""
    size = pooled.size
    by_rank = _by_rank(size, test)
    order = np.argsort(pooled, kind="stable")
    _, starts, counts = np.unique(pooled[order], return_index=True, return_counts=True)
    averaged = np.repeat(np.add.reduceat(by_rank, starts) / counts, counts)
    weights = np.empty(size, dtype=np.float64)
    weights[order] = averaged
    return weights


def _by_rank(size: int, test: str) -> npt.NDArray[np.float64]:
    """The score of each rank 1..size (ascending) for a rank test."""
    if test in ("savage", "tail"):
        # a(i) = sum_{j = N - i + 1}^{N} 1/j: the expected i-th order statistic of N unit exponentials.
        by_rank = np.cumsum(1.0 / np.arange(size, 0, -1, dtype=np.float64))
        if test == "tail":
            floor = by_rank[min(size - 1, math.floor(size * (1.0 - TAIL)))]
            by_rank = np.maximum(0.0, by_rank - floor)
        return by_rank
    return np.arange(1, size + 1, dtype=np.float64)


def _random_subsets(size: int, m: int, rows: int, rng: np.random.Generator) -> npt.NDArray[np.intp]:
    keys = rng.random((rows, size))
    return np.argpartition(keys, m - 1, axis=1)[:, :m] if m < size else np.tile(np.arange(size), (rows, 1))


def _chunks(size: int, total: int) -> list[int]:
    step = max(1, _CHUNK_CELLS // size)
    return [min(step, total - start) for start in range(0, total, step)]


def _permuted_sums(
    weights: npt.NDArray[np.float64], m: int, total: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    parts = [weights[_random_subsets(weights.size, m, rows, rng)].sum(axis=1) for rows in _chunks(weights.size, total)]
    return np.concatenate(parts)


def _ks_plus(pooled: npt.NDArray[np.float64], batch_index: npt.NDArray[np.intp], n: int, m: int) -> list[float]:
    """One-sided KS distances ``max(F_ref - F_batch)`` for each row of batch indices into ``pooled``."""
    order = np.argsort(pooled, kind="stable")
    # Only the last of a run of tied values is a point where both ECDFs are evaluated.
    sorted_values = pooled[order]
    ends = np.r_[sorted_values[1:] != sorted_values[:-1], True]
    in_batch = np.zeros((batch_index.shape[0], pooled.size), dtype=bool)
    np.put_along_axis(in_batch, batch_index, True, axis=1)
    in_batch = in_batch[:, order]
    batch_cdf = np.cumsum(in_batch, axis=1) / m
    reference_cdf = np.cumsum(~in_batch, axis=1) / n
    gaps = (reference_cdf - batch_cdf)[:, ends]
    return [float(g) for g in np.maximum(gaps.max(axis=1), 0.0)]


def _permuted_ks(
    pooled: npt.NDArray[np.float64], n: int, m: int, total: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    out: list[float] = []
    for rows in _chunks(pooled.size, total):
        out += _ks_plus(pooled, _random_subsets(pooled.size, m, rows, rng), n, m)
    return np.asarray(out)


def _permutation_p(perms: npt.NDArray[np.float64], statistic: float) -> float:
    # A relative tolerance keeps a permutation that reproduces the observed split from counting as smaller.
    tolerance = 1e-9 * max(1.0, abs(statistic))
    return float((1 + np.count_nonzero(perms >= statistic - tolerance)) / (perms.size + 1))


@functools.lru_cache(maxsize=64)
def fixed_reference_spread(
    n_reference: int, batch_size: int, alpha: float, test: str = "tail", sets: int = 200, batches: int = 200
) -> tuple[float, float, float]:
    """How far one fixed reference set's own false-alarm rate can sit from ``alpha``: the 10th, 50th and 90th
    percentiles, over random reference sets of ``n_reference`` scores, of the rate at which batches of
    ``batch_size`` scores from the same distribution are declared drifting.

    The test's guarantee is on average over reference sets; a detector keeps one. Rank tests depend on the scores'
    ranks only, so uniform scores give the answer for any distribution (simulated with the normal approximation of
    the rank statistic, seeded; ``ks`` uses the Savage numbers as a guide).

    >>> low, median, high = fixed_reference_spread(242, 200, 0.05, "tail")

    Example
    -------
    >>> low, median, high = fixed_reference_spread(242, 200, 0.05)
    >>> low < 0.05 < high
    True
    """
    rng = np.random.default_rng(12345)
    n, m = n_reference, batch_size
    size = n + m
    by_rank = _by_rank(size, test if test in ("tail", "mann-whitney") else "savage")
    mean = m * by_rank.mean()
    var = m * n / (size * (size - 1)) * float(((by_rank - by_rank.mean()) ** 2).sum())
    critical = statistics.NormalDist().inv_cdf(1.0 - alpha)  # p <= alpha exactly when z >= this
    rates = np.empty(sets)
    within = np.arange(m)
    for s in range(sets):
        reference = np.sort(rng.random(n))
        draws = np.sort(rng.random((batches, m)), axis=1)
        # The pooled rank of a batch value: reference values below it, plus batch values below it, plus one.
        ranks = np.searchsorted(reference, draws) + within + 1
        statistic = by_rank[ranks - 1].sum(axis=1)
        rates[s] = float(np.mean((statistic - mean) / math.sqrt(var) >= critical))
    low, median, high = np.quantile(rates, [0.1, 0.5, 0.9])
    return float(low), float(median), float(high)
