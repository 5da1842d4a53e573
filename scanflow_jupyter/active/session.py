"""A labeling session: ranked batches of a pool shown to a person, each label committed at once, the model
retrained in the background, and a learning curve against a random control slice.

Example
-------
>>> from sklearn.linear_model import LogisticRegression
>>> session = LabelingSession(pool, LogisticRegression(max_iter=500), classes=range(10),
...                           name="digits", store="labels.db", holdout=(x_test, y_test))   # doctest: +SKIP
>>> batch = session.next_batch()            # ten samples, each with why it was picked     # doctest: +SKIP
>>> session.label(batch[0].id, 7)           # on disk when this returns                     # doctest: +SKIP
>>> session.retrain(wait=True).accuracy     # a new model version, a point of the curve     # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..checking.data import as_ids, as_samples
from ..errors import LabelingError, LabelValueError
from .rankers import Pick, RandomRanker, Ranker, make_ranker, seed_indices
from .store import LabelStore
from .versions import ModelVersions, modal_fit

__all__ = ["CurvePoint", "LabelingSession", "Sample"]

DEFAULT_STORE = Path(".scanflow") / "labels.db"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """A sample shown for labeling: its id, its row in the pool, and why it was picked (its score parts).

    ``source`` is ``seed`` (the cold start), ``ranked`` or ``control`` (the random slice); the grid does not show it,
    so the control slice is labeled like the rest.
    """

    id: str
    index: int
    why: dict[str, float]
    source: str


@dataclass(frozen=True)
class CurvePoint:
    """One retrain: how many labels, the held-out accuracy, and the model version (``series``: ``session`` for the
    model on every label, ``control`` for the same model on the random slice's labels only)."""

    labels: int
    accuracy: float
    version: int
    series: str = "session"


@dataclass
class _Trained:
    model: Any
    version: int
    labels: int


class LabelingSession:
    """Human-in-the-loop active learning over ``pool`` for ``model`` (a scikit-learn-style classifier).

    Parameters
    ----------
    pool
        The unlabeled samples, shape ``(n, ...)``; rankers and models see them flattened to ``(n, features)``.
    model
        An unfitted classifier (``fit``; ``predict_proba`` for uncertainty rankers). Each retrain fits a clone
        (``fit`` overrides how: ``fit(model, x, y) -> fitted model``).
    classes
        The class names; the cold start seeds until every one has a label. ``add_class`` adds "other" ones.
    ranker
        ``"hybrid"`` (default), ``"margin"``, ``"entropy"``, ``"least_confidence"``, ``"novelty"`` (needs
        ``detector``), ``"random"``, or a :class:`~scanflow_jupyter.active.rankers.Ranker`.
    store
        A :class:`LabelStore` or the path of its file (default ``.scanflow/labels.db``); ``name`` is the session in it.
    budget
        How many labels to ask for at most (default: the pool). A budget larger than the pool is an error.
    control_share
        The share of each ranked batch drawn at random (shown unmarked): the control that shows whether ranking helps.
    holdout
        ``(x, y)`` to measure accuracy after each retrain: the learning curve.
    retrain_every
        Retrain (in the background) after this many new labels (default: the batch size); 0 never retrains by itself.
    fit
        How a retrain fits: ``fit(model, x, y) -> fitted model``; ``"modal"`` trains through modAL's ActiveLearner;
        default: a plain ``fit`` of a clone.
    registered_model
        Log every retrain as a version of this MLflow registered model (in the current tracking URI and
        experiment, e.g. after ``use_store(app)``), and the learning curve as metrics of the session's MLflow run.
    cold_start
        Seed with typical samples of distinct clusters until every class has a label (default). Without it, the
        first batches are drawn at random.
    """

    def __init__(
        self,
        pool: Any,
        model: Any,
        *,
        classes: Iterable[Any],
        name: str = "session",
        ranker: str | Ranker = "hybrid",
        store: LabelStore | str | Path | None = None,
        ids: Sequence[Any] | None = None,
        annotator: str | None = None,
        batch_size: int = 10,
        budget: int | None = None,
        control_share: float = 0.1,
        holdout: tuple[Any, Any] | None = None,
        detector: Any = None,
        retrain_every: int | None = None,
        fit: Callable[[Any, Any, Any], Any] | str | None = None,
        registered_model: str | None = None,
        cold_start: bool = True,
        seed: int | None = 0,
    ) -> None:
        samples = as_samples(pool, what="the pool", fix="drop or impute those samples before labeling")
        self.samples = samples
        self.x: npt.NDArray[np.float64] = samples.reshape(len(samples), -1).astype(np.float64)
        self.ids = as_ids(ids, len(samples), what="the pool")
        self._row = {sample_id: i for i, sample_id in enumerate(self.ids)}
        if batch_size < 1:
            raise LabelingError(f"batch_size must be at least 1, got {batch_size}")
        if budget is not None and budget > len(samples):
            raise LabelingError(
                f"a budget of {budget} labels is more than the pool holds ({len(samples)} samples): lower the "
                "budget or add samples to the pool"
            )
        if not 0.0 <= control_share < 1.0:
            raise LabelingError(f"control_share must lie in [0, 1), got {control_share}")
        self.values = {str(c): c for c in classes}
        if not self.values:
            raise LabelingError("name the classes to label (classes=[...]); the cold start seeds every one")
        self.name = name
        self.store = store if isinstance(store, LabelStore) else LabelStore(store or DEFAULT_STORE)
        for value in self.store.open_session(name, list(self.values)):
            self.values.setdefault(value, value)
        self.annotator = annotator or _whoami()
        self.batch_size = batch_size
        self.budget = budget if budget is not None else len(samples)
        self.control_share = control_share
        self.holdout = holdout
        self.detector = detector
        self.ranker = make_ranker(ranker, detector=detector, seed=seed)
        self.control = RandomRanker(None if seed is None else seed + 1)
        self.retrain_every = batch_size if retrain_every is None else retrain_every
        self.base_model = model
        self._fit = _fitter(fit)
        self.versions = ModelVersions(name, registered_model) if registered_model else None
        self.tracking_error: str | None = None  # the last failure to log a retrain to MLflow (labeling goes on)
        self.cold_start = cold_start
        self.seed = seed
        self._lock = threading.RLock()
        self._trained: _Trained | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scanflow-retrain")
        self._pending: Future[CurvePoint | None] | None = None
        self._since_retrain = 0
        self._why: dict[str, dict[str, float]] = {}
        self._skipped: set[str] = set()
        self.curve: list[CurvePoint] = []
        self.listeners: list[Callable[[str], None]] = []  # called with "labels", "model" (the widget redraws)
        prepare = getattr(self.ranker, "prepare", None)
        if callable(prepare):  # e.g. the pool's typicality: ready by the time the cold start is labeled
            self._executor.submit(prepare, self.x)
        if self.labels():  # a session reopened (a restarted kernel): the model catches up in the background
            self.retrain()

    # -- what has been done --------------------------------------------------------------------------
    def labels(self) -> dict[str, Any]:
        """Sample id -> label value, for every labeled sample of the pool."""
        return {k: self.values.get(v, v) for k, v in self.store.labels(self.name).items() if k in self._row}

    @property
    def classes(self) -> list[str]:
        return list(self.values)

    @property
    def model(self) -> Any:
        """The latest fitted model (None before the first retrain)."""
        with self._lock:
            return self._trained.model if self._trained else None

    @property
    def version(self) -> int:
        with self._lock:
            return self._trained.version if self._trained else 0

    def progress(self) -> dict[str, int]:
        labeled = len(self.labels())
        queued = len(self.store.claimed(self.name, self.annotator))
        return {"labeled": labeled, "queued": queued, "budget": self.budget, "pool": len(self.ids)}

    @property
    def done(self) -> bool:
        return len(self.labels()) >= self.budget

    # -- what to label next ------------------------------------------------------------------------
    def next_batch(self, n: int | None = None) -> list[Sample]:
        """The samples to label now, ``n`` of them while the budget lasts: this annotator's open claims first (after
        a restart, where they stopped; a batch left half done), topped up with new ones: the cold start until every
        class has a label, then ranked with a random control slice."""
        n = n or self.batch_size
        open_claims = [(s, src) for s, src in self.store.claimed(self.name, self.annotator) if s in self._row]
        held = [self._sample(s, src) for s, src in open_claims[:n]]
        labels = self.labels()
        # A batch is full: the samples still held (a batch left half done) are topped up with new ones.
        n = min(n - len(held), self.budget - len(labels) - len(held))
        if n <= 0:
            return held
        return held + self._new_batch(n, labels, {s.id for s in held})

    def _new_batch(self, n: int, labels: dict[str, Any], held: set[str]) -> list[Sample]:
        free = np.array(
            [i for i, s in enumerate(self.ids) if s not in labels and s not in self._skipped and s not in held],
            dtype=np.intp,
        )
        if len(free) == 0:
            return []
        flagged = [(s, score, reason) for s, score, reason in self.store.queued(self.name) if s in self._row]
        if flagged:  # samples the checker flagged in production come first
            picks = [
                Pick(self._row[s], score, {reason: score}) for s, score, reason in flagged if s not in self._skipped
            ]
            taken = self._claim(picks[: n * 2], n, "flagged")
            if taken:
                return taken
        model = self.model
        # The cold start goes on until every named class has a label, within reason: a class the pool may not
        # hold at all must not keep the ranker waiting forever.
        seeding = model is None or (not self._every_class_seen(labels) and len(labels) < 3 * len(self.values))
        if not self.cold_start:
            seeding = model is None and getattr(self.ranker, "needs_model", True)
            if seeding:  # nothing to rank with yet: random samples until the first retrain
                return self._claim(self.control.pick(model, self.x, free, n * 2), n, "seed")
        if seeding:
            # Ask for a few more than n: another annotator may hold some of them.
            picks = seed_indices(self.x, free, min(len(free), n * 2), seed=self._round_seed(len(labels)))
            return self._claim(picks, n, "seed")
        n_control = min(n, math.floor(n * self.control_share + 0.5)) if self.control_share else 0
        # The ranker picks the batch itself (a diverse ranker spreads exactly these over clusters); only when
        # another annotator holds some of them does a longer list fill the gaps.
        want = n - n_control
        batch = self._claim(self.ranker.pick(model, self.x, free, want), want, "ranked")
        if len(batch) < want:
            have = {s.index for s in batch}
            more = [p for p in self.ranker.pick(model, self.x, free, want * 3) if p.index not in have]
            batch += self._claim(more, want - len(batch), "ranked")
        if n_control:
            rest = np.setdiff1d(free, [s.index for s in batch])
            control = self.control.pick(model, self.x, rest, n_control * 2)
            batch += self._claim(self._explained(model, control), n_control, "control")
            batch.sort(key=lambda s: -sum(s.why.values()))  # the control slice is not at the end
        return batch

    def _claim(self, picks: list[Pick], n: int, source: str) -> list[Sample]:
        taken = set(self.store.claim(self.name, self.annotator, [self.ids[p.index] for p in picks], n, source=source))
        out = []
        for pick in picks:
            sample_id = self.ids[pick.index]
            if sample_id in taken:
                self._why[sample_id] = pick.why
                out.append(Sample(sample_id, pick.index, pick.why, source))
        return out

    def _explained(self, model: Any, picks: list[Pick]) -> list[Pick]:
        """Give the control picks the ranker's own score parts, so they look like any other sample."""
        if not picks:
            return picks
        rows = np.array([p.index for p in picks], dtype=np.intp)
        try:
            scored = {p.index: p.why for p in self.ranker.pick(model, self.x, rows, len(rows))}
        except Exception:  # a ranker that cannot score this handful: the control shows no reasons
            scored = {}
        return [Pick(p.index, p.score, scored.get(p.index, {})) for p in picks]

    def _sample(self, sample_id: str, source: str) -> Sample:
        return Sample(sample_id, self._row[sample_id], self._why.get(sample_id, {}), source)

    def _every_class_seen(self, labels: dict[str, Any]) -> bool:
        seen = {str(v) for v in labels.values()}
        return all(c in seen for c in self.values)

    def _round_seed(self, salt: int) -> int | None:
        return None if self.seed is None else self.seed + 7919 * salt

    # -- labeling ----------------------------------------------------------------------------------
    def label(self, sample_id: str, label: Any) -> int:
        """Commit a label; returns its sequence number in the store once it is on disk."""
        return self.label_many([sample_id], label)[0]

    def label_many(self, sample_ids: Iterable[str], label: Any) -> list[int]:
        """Give several samples the same label (the grid's multi-select)."""
        key = str(label)
        if key not in self.values:
            raise LabelValueError(
                f"{label!r} is not a class of session {self.name!r} (classes: {', '.join(self.values)}); pick one "
                "of them, or add it with session.add_class"
            )
        seqs = []
        for sample_id in sample_ids:
            if str(sample_id) not in self._row:
                raise LabelingError(f"sample {sample_id!r} is not in the pool of session {self.name!r}")
            seqs.append(self.store.add_label(self.name, str(sample_id), key, annotator=self.annotator))
            self._since_retrain += 1
        self._notify("labels")
        if self.retrain_every and self._since_retrain >= self.retrain_every:
            self.retrain()
        return seqs

    def undo(self) -> Sample | None:
        """Undo this annotator's latest label; its sample is shown again (first)."""
        record = self.store.undo(self.name, self.annotator)
        if record is None:
            return None
        self._since_retrain = max(0, self._since_retrain - 1)
        self._notify("labels")
        return self._sample(record.sample_id, record.source)

    def skip(self, sample_id: str) -> None:
        """Put a sample aside for this session (someone else may label it)."""
        self._skipped.add(str(sample_id))
        self.store.release(self.name, self.annotator, [str(sample_id)])
        self._notify("labels")

    def add_class(self, name: str) -> list[str]:
        """Add an "other / new class" label; returns the classes."""
        for value in self.store.add_class(self.name, name):
            self.values.setdefault(value, value)
        self._notify("labels")
        return self.classes

    # -- retraining --------------------------------------------------------------------------------
    def retrain(self, wait: bool = False) -> Future[CurvePoint | None]:
        """Fit a clone of the model on every label so far, in the background (one at a time; a retrain asked
        for while one runs starts after it). With ``wait``, block until it is done. The future's result is the
        new point of the learning curve (None without a holdout, or when no class has two labels yet)."""
        self._since_retrain = 0
        future = self._executor.submit(self._retrain)
        self._pending = future
        if wait:
            future.result()
        return future

    def _retrain(self) -> CurvePoint | None:
        labels = self.store.current(self.name)
        labels = [r for r in labels if r.sample_id in self._row]
        if len({r.label for r in labels}) < 2:
            return None  # a classifier needs two classes
        rows = np.array([self._row[r.sample_id] for r in labels], dtype=np.intp)
        y = np.array([self.values.get(r.label, r.label) for r in labels], dtype=object)
        y = _typed(y)
        fitted = self._fit(self.base_model, self.x[rows], y)
        with self._lock:
            version = (self._trained.version if self._trained else 0) + 1
            self._trained = _Trained(fitted, version, len(labels))
        point = None
        if self.holdout is not None:
            point = CurvePoint(len(labels), self._accuracy(fitted), version)
            control = [i for i, r in enumerate(labels) if r.source == "control"]
            points = [point]
            if len({y[i] for i in control}) >= 2:
                control_model = self._fit(self.base_model, self.x[rows[control]], y[control])
                points.append(CurvePoint(len(control), self._accuracy(control_model), version, "control"))
            with self._lock:
                self.curve.extend(points)
        if self.versions is not None:
            self._log_version(version, fitted, len(labels), point, points[-1] if len(points) > 1 else None)
        self._notify("model")
        return point

    def _log_version(
        self, version: int, fitted: Any, labels: int, point: CurvePoint | None, control: CurvePoint | None
    ) -> None:
        assert self.versions is not None
        try:
            self.versions.log(
                version,
                fitted,
                labels=labels,
                ranker=self.ranker.name,
                accuracy=None if point is None else point.accuracy,
                control_accuracy=None if control is None else control.accuracy,
                control_labels=None if control is None else control.labels,
            )
            self.tracking_error = None
        except Exception as exc:  # MLflow down: the labels are safe in the store, the model in memory
            # Stop trying (each try can wait on the store for minutes and hold up the next retrain).
            self.versions = None
            self.tracking_error = (
                f"retrain {version} was not logged to MLflow ({type(exc).__name__}: {exc}); later retrains are not "
                "logged either: reopen the session once the tracking store answers"
            )
            log.warning(self.tracking_error)

    def _accuracy(self, model: Any) -> float:
        assert self.holdout is not None
        x, y = self.holdout
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return float(np.mean(np.asarray(model.predict(x)) == np.asarray(y)))

    def wait(self, timeout: float | None = None) -> None:
        """Block until the latest retrain is done."""
        if self._pending is not None:
            self._pending.result(timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _notify(self, what: str) -> None:
        for listener in list(self.listeners):
            listener(what)

    def __repr__(self) -> str:
        p = self.progress()
        return (
            f"LabelingSession({self.name!r}, ranker={self.ranker.name!r}, {p['labeled']} of {p['budget']} labeled, "
            f"model version {self.version})"
        )


def _fitter(fit: Callable[[Any, Any, Any], Any] | str | None) -> Callable[[Any, Any, Any], Any]:
    if fit is None:
        return _plain_fit
    if fit == "modal":
        return modal_fit
    if callable(fit):
        return fit
    raise LabelingError(f"fit={fit!r} is not a way to fit: pass 'modal', a function fit(model, x, y), or nothing")


def _plain_fit(model: Any, x: Any, y: Any) -> Any:
    from sklearn.base import clone

    fitted = clone(model)
    fitted.fit(x, y)
    return fitted


def _typed(y: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Labels as numbers when every one is a number (scikit-learn compares them with the holdout's)."""
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in y):
        return y.astype(np.int64)
    if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in y):
        return y.astype(np.float64)
    return y


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in a container: still one annotator
        return f"annotator-{time.time_ns() % 100000}"
