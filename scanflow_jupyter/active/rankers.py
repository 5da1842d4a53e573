"""Rankers: which unlabeled samples a person should label next, and why.

A ranker picks ``n`` samples of a pool for a model and says, for each, what made it rank (its score breakdown).

- :class:`UncertaintyRanker`: modAL's margin, entropy or least-confidence measure, for any scikit-learn-style
  classifier with ``predict_proba``.
- :class:`NoveltyRanker`: the checker's score (reconstruction error, latent distance, or both combined) of an
  :class:`~scanflow_jupyter.checking.AutoencoderDetector`: what the production model has never seen.
- :class:`HybridRanker` (the default): uncertainty weighted by how typical a sample is of the pool (so outliers do
  not crowd the batch), plus novelty when a detector is given, then a diversity step that spreads the batch over
  clusters, so it is not ten near-duplicates. Its uncertainty is that of the sample's neighbourhood (``smoothing``):
  the model's probabilities averaged with those of the sample's nearest pool neighbours, so a region the model is
  unsure of outranks one odd sample the model happens to be unsure of.
- :class:`RandomRanker`: the control.

Before the model can rank (no labels, or a class the user named has none yet), :func:`seed_indices` picks
typical samples from distinct clusters: a cold start that reaches every class quickly.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import RankerError

__all__ = [
    "HybridRanker",
    "NoveltyRanker",
    "Pick",
    "RandomRanker",
    "Ranker",
    "UncertaintyRanker",
    "make_ranker",
    "measure_of",
    "pool_neighbors",
    "seed_indices",
    "typicality",
]

Measure = Literal["margin", "entropy", "least_confidence"]
MEASURES: tuple[Measure, ...] = ("margin", "entropy", "least_confidence")
FloatArray = npt.NDArray[np.float64]
# The hybrid ranker's default weight of the neighbours' probabilities. With a batch spread over as many clusters
# as it has samples, 0.5 gave 0.2-0.8 points more accuracy at 100 labels on digits than the earlier default (no
# smoothing, twice as many clusters as the batch) on each of three sets of 20 seeds; the labels needed for 95%
# moved within the seeds' noise (125 against 140 on the benchmark's seeds, 135 against 130 and 130 against 130
# on two others; benchmarks/README.md).
SMOOTHING = 0.5


@dataclass(frozen=True)
class Pick:
    """A sample chosen for labeling: its row in the pool, its score, and the parts of that score."""

    index: int
    score: float
    why: dict[str, float] = field(default_factory=dict)


class Ranker(Protocol):
    """Chooses ``n`` of the ``candidates`` rows of ``pool`` for ``model`` (fitted on the labels so far)."""

    name: str
    needs_model: bool  # False: it ranks before any model is fitted (novelty, random)

    def pick(self, model: Any, pool: FloatArray, candidates: npt.NDArray[np.intp], n: int) -> list[Pick]: ...


def _top(scores: FloatArray, candidates: npt.NDArray[np.intp], n: int, parts: dict[str, FloatArray]) -> list[Pick]:
    order = np.argsort(-scores, kind="stable")[:n]
    return [Pick(int(candidates[i]), float(scores[i]), {k: float(v[i]) for k, v in parts.items()}) for i in order]


def _probabilities(model: Any, x: FloatArray, ranker: str) -> FloatArray:
    if not hasattr(model, "predict_proba"):
        raise RankerError(
            f"the {ranker} ranker needs class probabilities, and {type(model).__name__} has no predict_proba; "
            "use ranker='novelty' or 'random', or a classifier with predict_proba (for an SVC: probability=True)"
        )
    try:
        return np.asarray(model.predict_proba(x), dtype=np.float64)
    except Exception as exc:  # sklearn's NotFittedError and friends, from the user's model
        raise RankerError(
            f"the {ranker} ranker could not get probabilities from {type(model).__name__} ({type(exc).__name__}: "
            f"{exc}); label a few samples first (the session seeds every class) or fit the model"
        ) from None


def uncertainty(model: Any, x: FloatArray, measure: Measure) -> FloatArray:
    """Higher is more uncertain, for every measure (modAL's margin is turned into 1 - margin)."""
    from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty

    _probabilities(model, x[:1], f"uncertainty ({measure})")  # the clear error, before modAL's
    if measure == "margin":
        return 1.0 - np.asarray(classifier_margin(model, x), dtype=np.float64)
    if measure == "entropy":
        return np.asarray(classifier_entropy(model, x), dtype=np.float64)
    return np.asarray(classifier_uncertainty(model, x), dtype=np.float64)


class RandomRanker:
    """Uniformly at random: the control every other ranker must beat."""

    name = "random"
    needs_model = False

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def pick(self, model: Any, pool: FloatArray, candidates: npt.NDArray[np.intp], n: int) -> list[Pick]:
        chosen = self.rng.choice(len(candidates), size=min(n, len(candidates)), replace=False)
        return [Pick(int(candidates[i]), 0.0, {"random": 1.0}) for i in chosen]


class UncertaintyRanker:
    """modAL's uncertainty measures: ``margin`` (default), ``entropy`` or ``least_confidence``."""

    needs_model = True

    def __init__(self, measure: Measure = "margin") -> None:
        if measure not in MEASURES:
            raise RankerError(f"unknown uncertainty measure {measure!r}: use one of {', '.join(MEASURES)}")
        self.measure: Measure = measure
        self.name: str = measure

    def pick(self, model: Any, pool: FloatArray, candidates: npt.NDArray[np.intp], n: int) -> list[Pick]:
        scores = uncertainty(model, pool[candidates], self.measure)
        return _top(scores, candidates, n, {self.measure: scores})


class NoveltyRanker:
    """The checker's score of each sample: what looks least like the detector's reference data comes first."""

    name = "novelty"
    needs_model = False

    def __init__(self, detector: Any, score: str | None = None) -> None:
        self.detector = detector
        self.score = score

    def pick(self, model: Any, pool: FloatArray, candidates: npt.NDArray[np.intp], n: int) -> list[Pick]:
        scores = self.detector.scores(pool[candidates])
        kind = self.score or self.detector.score_kind
        main = np.asarray(scores.get(kind), dtype=np.float64)
        parts = {
            "reconstruction": np.asarray(scores.reconstruction, dtype=np.float64),
            "latent": np.asarray(scores.latent, dtype=np.float64),
        }
        return _top(main, candidates, n, {"novelty": main, **parts})


def _standardize(values: FloatArray) -> FloatArray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def pool_neighbors(
    pool: FloatArray, neighbors: int = 10, *, exact_up_to: int = 5000, seed: int = 0
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Each sample's typicality (see :func:`typicality`) and the pool rows of its ``neighbors`` nearest other
    samples (shape ``(n, neighbors)``; for a pool larger than ``exact_up_to``, among a random reference set)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(neighbors + 1, len(pool))
    if k < 2:
        return np.ones(len(pool)), np.arange(len(pool), dtype=np.intp)[:, None]
    if len(pool) <= exact_up_to:
        dist, idx = NearestNeighbors(n_neighbors=k).fit(pool).kneighbors(pool)
        rows = idx[:, 1:]
        mean = dist[:, 1:].mean(axis=1)
    else:
        from sklearn.decomposition import PCA

        rng = np.random.default_rng(seed)
        sample = rng.choice(len(pool), exact_up_to, replace=False)
        components = min(50, pool.shape[1])
        reduced = PCA(n_components=components, svd_solver="randomized", random_state=seed).fit(pool[sample])
        projected = reduced.transform(pool).astype(np.float32)
        dist, idx = NearestNeighbors(n_neighbors=k).fit(projected[sample]).kneighbors(projected)
        mean = dist[:, 1:].mean(axis=1)  # a reference sample finds itself first; others lose one neighbour
        rows = sample[idx[:, 1:]]
    scale = np.median(mean) or 1.0
    return np.asarray(1.0 / (1.0 + mean / scale), dtype=np.float64), np.asarray(rows, dtype=np.intp)


def typicality(pool: FloatArray, neighbors: int = 10, *, exact_up_to: int = 5000, seed: int = 0) -> FloatArray:
    """How typical each sample is of the pool, on (0, 1]: the inverse of its mean distance to its nearest
    neighbours, scaled by the pool's median. Outliers score low.

    Up to ``exact_up_to`` samples the neighbours are exact. A larger pool is projected on its first 50 principal
    components and each sample is compared with a random reference set of ``exact_up_to`` samples: an
    estimate of the same density, in seconds instead of minutes (70,000 x 784 digits-like data: about 5 s).
    """
    return pool_neighbors(pool, neighbors, exact_up_to=exact_up_to, seed=seed)[0]


def measure_of(probabilities: FloatArray, measure: Measure) -> FloatArray:
    """modAL's uncertainty measures computed from class probabilities (higher is more uncertain, as
    :func:`uncertainty` gives them): ``1 - margin``, entropy, or ``1 - max``."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    if measure == "margin":
        top = np.sort(p, axis=1)
        return np.asarray(1.0 - (top[:, -1] - (top[:, -2] if p.shape[1] > 1 else 0.0)))
    if measure == "entropy":
        return np.asarray(-(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1))
    return np.asarray(1.0 - p.max(axis=1))


def _diverse(
    scores: FloatArray, x: FloatArray, candidates: npt.NDArray[np.intp], n: int, parts: dict[str, FloatArray],
    shortlist: int, seed: int | None,
) -> list[Pick]:  # fmt: skip
    """The best-scoring sample of each of ``n`` clusters of the ``shortlist * n`` best candidates."""
    from sklearn.cluster import KMeans

    top = np.argsort(-scores, kind="stable")[: max(n, shortlist * n)]
    if len(top) <= n:
        return _top(scores, candidates, n, parts)
    labels = KMeans(n_clusters=n, n_init=1, random_state=seed).fit_predict(x[top])
    chosen = []
    for cluster in range(n):
        members = top[labels == cluster]
        if len(members):
            chosen.append(members[np.argmax(scores[members])])
    chosen.sort(key=lambda i: -scores[i])
    return [Pick(int(candidates[i]), float(scores[i]), {k: float(v[i]) for k, v in parts.items()}) for i in chosen]


class HybridRanker:
    """Uncertainty x typicality (+ novelty), spread over clusters: the default ranker.

    Parameters
    ----------
    measure
        The uncertainty measure (modAL's ``margin``, ``entropy`` or ``least_confidence``).
    detector
        An optional fitted :class:`~scanflow_jupyter.checking.AutoencoderDetector`; its standardized score is added
        with weight ``novelty_weight``, so samples unlike the production reference rank higher.
    density_power
        How much typicality counts (0: not at all). Plain uncertainty chases outliers a person cannot teach from.
    smoothing
        The weight of the neighbours' probabilities in a sample's uncertainty (0: the sample's own, as modAL's
        measures; 0.5, the default: half its own, half its 10 nearest pool neighbours' mean; 1: the neighbours'
        only). See ``SMOOTHING`` and ``benchmarks/README.md`` for the figures.
    shortlist
        The diversity step clusters the ``shortlist * n`` best samples into ``n`` clusters and takes the best of each,
        so ask for the batch itself: a session asks for exactly the samples it will show.
    """

    name = "hybrid"
    needs_model = True

    def __init__(
        self,
        measure: Measure = "margin",
        *,
        detector: Any = None,
        novelty_weight: float = 0.5,
        density_power: float = 0.5,
        smoothing: float = SMOOTHING,
        shortlist: int = 5,
        seed: int | None = 0,
    ) -> None:
        if measure not in MEASURES:
            raise RankerError(f"unknown uncertainty measure {measure!r}: use one of {', '.join(MEASURES)}")
        if not 0.0 <= smoothing <= 1.0:
            raise RankerError(f"smoothing must lie in [0, 1], got {smoothing}")
        self.measure: Measure = measure
        self.detector = detector
        self.novelty_weight = novelty_weight
        self.density_power = density_power
        self.smoothing = smoothing
        self.shortlist = shortlist
        self.seed = seed
        self._typicality: tuple[int, FloatArray, npt.NDArray[np.intp]] | None = None
        self._lock = threading.Lock()

    def prepare(self, pool: FloatArray) -> None:
        """Compute the pool's typicality now (a session does it in the background while the cold start is
        labeled, so the first ranked batch does not wait for it)."""
        self._typical(pool)

    def _neighbors(self, pool: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        # The pool does not change within a session: computed once (a k-NN pass over the pool).
        with self._lock:
            if self._typicality is None or self._typicality[0] != id(pool):
                self._typicality = (id(pool), *pool_neighbors(pool))
            return self._typicality[1], self._typicality[2]

    def _typical(self, pool: FloatArray) -> FloatArray:
        return self._neighbors(pool)[0]

    def _uncertainty(self, model: Any, pool: FloatArray, candidates: npt.NDArray[np.intp]) -> FloatArray:
        if not self.smoothing:
            return uncertainty(model, pool[candidates], self.measure)
        rows = self._neighbors(pool)[1][candidates]
        needed, inverse = np.unique(np.r_[candidates, rows.ravel()], return_inverse=True)
        probabilities = _probabilities(model, pool[needed], "hybrid")[inverse]
        own, around = probabilities[: len(candidates)], probabilities[len(candidates) :].reshape(*rows.shape, -1)
        return measure_of((1.0 - self.smoothing) * own + self.smoothing * around.mean(axis=1), self.measure)

    def pick(self, model: Any, pool: FloatArray, candidates: npt.NDArray[np.intp], n: int) -> list[Pick]:
        x = pool[candidates]
        unsure = self._uncertainty(model, pool, candidates)
        typical = self._typical(pool)[candidates]
        scores = unsure * typical**self.density_power
        parts = {self.measure: unsure, "typicality": typical}
        if self.detector is not None:
            novelty = np.asarray(self.detector.score(x), dtype=np.float64)
            parts["novelty"] = novelty
            scores = scores * (1.0 + self.novelty_weight * np.clip(_standardize(novelty), 0.0, None))
        return _diverse(scores, x, candidates, n, parts, self.shortlist, self.seed)


def seed_indices(pool: FloatArray, candidates: npt.NDArray[np.intp], n: int, seed: int | None = 0) -> list[Pick]:
    """A cold start: the most typical sample of each of ``n`` clusters of the candidates (k-means), so the first
    labels cover the pool's main groups, and with them, usually, every class."""
    from sklearn.cluster import KMeans

    n = min(n, len(candidates))
    x = pool[candidates]
    km = KMeans(n_clusters=n, n_init=1, random_state=seed).fit(x)
    dist = np.linalg.norm(x - km.cluster_centers_[km.labels_], axis=1)
    picks = []
    for cluster in range(n):
        members = np.flatnonzero(km.labels_ == cluster)
        if len(members):
            best = members[np.argmin(dist[members])]
            picks.append(Pick(int(candidates[best]), 0.0, {"cluster": float(cluster), "distance": float(dist[best])}))
    return picks


def make_ranker(ranker: str | Ranker, *, detector: Any = None, seed: int | None = 0) -> Ranker:
    """A ranker by name: ``hybrid`` (default), ``margin``, ``entropy``, ``least_confidence``, ``novelty``,
    ``random``; a ranker object is returned as is."""
    if not isinstance(ranker, str):
        return ranker
    if ranker == "hybrid":
        return HybridRanker(detector=detector, seed=seed)
    if ranker in MEASURES:
        return UncertaintyRanker(ranker)
    if ranker == "novelty":
        if detector is None:
            raise RankerError(
                "the novelty ranker needs a fitted detector: pass detector=AutoencoderDetector().fit(reference)"
            )
        return NoveltyRanker(detector)
    if ranker == "random":
        return RandomRanker(seed)
    names: Sequence[str] = ("hybrid", *MEASURES, "novelty", "random")
    raise RankerError(f"unknown ranker {ranker!r}: use one of {', '.join(names)}")
