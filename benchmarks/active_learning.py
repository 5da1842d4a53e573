"""Active learning on scikit-learn's digits with a simulated annotator: does the ranking beat random?

For each model (logistic regression, a small Keras MLP), ranker (random, margin, entropy, novelty, hybrid) and seed,
a :class:`~scanflow_jupyter.active.LabelingSession` runs on a 70% pool of the digits with the true labels as the
annotator, in batches of 10, retraining after each batch and measuring accuracy on the other 30%. It prints the mean
accuracy after 50, 100, 200 and 300 labels and the labels needed for 90% and 95% (median over seeds).

The ``random`` row is plain random sampling (no cold start): the baseline. ``hybrid-unsmoothed`` is the default
ranker without neighbourhood smoothing (``smoothing=0``). Every other ranker starts with the
session's cold start (typical samples of distinct clusters until every class has a label). ``novelty`` ranks by the
checker's score of an autoencoder fitted on the pool itself (what is least typical comes first).

Usage::

    python benchmarks/active_learning.py                 # logistic regression, 20 seeds (about 40 min on 2 cores)
    python benchmarks/active_learning.py --models mlp --seeds 5
    python benchmarks/active_learning.py --quick         # 3 seeds, 200 labels
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The fits and k-means runs are small: one BLAS/OpenMP thread each runs them several times faster on a shared
# 2-core machine than a thread pool per call competing with the other jobs (same results).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from scanflow_jupyter.active import LabelingSession, LabelStore

RANKERS = ("random", "margin", "entropy", "novelty", "hybrid", "hybrid-unsmoothed")
DEFAULT_RANKER = "hybrid"
BUDGETS = (50, 100, 200, 300)
TARGETS = (0.90, 0.95)
# The default ranker's targets: at most this many labels (median over seeds) to reach each accuracy.
LABEL_TARGETS = {0.90: 70, 0.95: 120}


class KerasMLP:
    """A small Keras MLP (64-64-10, ReLU, softmax) with a scikit-learn face: fit, predict, predict_proba."""

    def __init__(self, epochs: int = 80, seed: int = 0) -> None:
        self.epochs = epochs
        self.seed = seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"epochs": self.epochs, "seed": self.seed}

    def set_params(self, **params: Any) -> KerasMLP:
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, x: np.ndarray, y: np.ndarray) -> KerasMLP:
        import keras

        keras.utils.set_random_seed(self.seed)
        self.classes_ = np.unique(y)
        index = {c: i for i, c in enumerate(self.classes_)}
        model = keras.Sequential(
            [
                keras.Input(shape=(x.shape[1],)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(len(self.classes_), activation="softmax"),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        model.fit(x, np.array([index[v] for v in y]), epochs=self.epochs, batch_size=32, verbose=0)
        self.model_ = model
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_(np.asarray(x, np.float32), training=False))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_[np.argmax(self.predict_proba(x), axis=1)])


def make_model(kind: str, seed: int) -> Any:
    if kind == "lr":
        return LogisticRegression(max_iter=1000)
    return KerasMLP(seed=seed)


def simulate(kind: str, ranker: str, seed: int, budget: int, detectors: dict[int, Any]) -> dict[int, float]:
    """Accuracy on the held-out 30% after each batch of 10 labels: labels -> accuracy."""
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    pool, test, truth, test_y = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
    detector = None
    if ranker == "novelty":
        if seed not in detectors:
            from scanflow_jupyter.checking import AutoencoderDetector

            detectors[seed] = AutoencoderDetector(seed=seed, progress=False).fit(pool)
        detector = detectors[seed]
    chosen: Any = ranker
    if ranker == "hybrid-unsmoothed":  # the default ranker without neighbourhood smoothing, measured beside it
        from scanflow_jupyter.active.rankers import HybridRanker

        chosen = HybridRanker(smoothing=0.0, seed=seed)
    session = LabelingSession(
        pool,
        make_model(kind, seed),
        classes=range(10),
        name="bench",
        ranker=chosen,
        detector=detector,
        store=LabelStore(":memory:"),
        annotator="oracle",
        batch_size=10,
        control_share=0.0,
        holdout=(test, test_y),
        retrain_every=0,
        cold_start=ranker != "random",
        seed=seed,
    )
    curve: dict[int, float] = {}
    try:
        while len(curve) * 10 < budget:
            batch = session.next_batch()
            if not batch:
                break
            for sample in batch:
                session.label(sample.id, int(truth[sample.index]))
            point = session.retrain(wait=True).result()
            if point is not None:
                curve[point.labels] = point.accuracy
    finally:
        session.close()
    return curve


def labels_needed(curve: dict[int, float], target: float) -> int | None:
    reached = [n for n, acc in sorted(curve.items()) if acc >= target]
    return reached[0] if reached else None


def report(kind: str, results: dict[str, list[dict[int, float]]], budget: int) -> None:
    budgets = [b for b in BUDGETS if b <= budget]
    print(f"\n## {kind}: mean held-out accuracy after N labels; labels needed (median, [min-max]; '>{budget}' = never)")
    head = " | ".join(f"{b} labels" for b in budgets)
    print(f"\n| ranker | {head} | labels for 90% | labels for 95% |")
    print("|---|" + "---|" * (len(budgets) + 2))
    for ranker, curves in results.items():
        accs = " | ".join(f"{statistics.fmean(c.get(b, float('nan')) for c in curves):.4f}" for b in budgets)
        needs = []
        for target in TARGETS:
            values = [labels_needed(c, target) or float("inf") for c in curves]
            show = lambda v: f">{budget}" if v == float("inf") else f"{v:g}"  # noqa: E731
            needs.append(f"{show(statistics.median(values))} [{show(min(values))}-{show(max(values))}]")
        print(f"| {ranker} | {accs} | {needs[0]} | {needs[1]} |")
    if "random" in results and DEFAULT_RANKER in results:
        worse = []
        for b in range(50, budget + 1, 10):
            ours = statistics.fmean(c.get(b, float("nan")) for c in results[DEFAULT_RANKER])
            base = statistics.fmean(c.get(b, float("nan")) for c in results["random"])
            if ours < base:
                worse.append(f"{b} ({ours:.4f} < {base:.4f})")
        verdict = "never (target: never; met)" if not worse else "at " + ", ".join(worse) + " (target: never; MISSED)"
        print(f"\n{DEFAULT_RANKER} below random (mean accuracy, budgets 50..{budget}): {verdict}")
    if DEFAULT_RANKER in results:
        for target, most in LABEL_TARGETS.items():
            values = [labels_needed(c, target) or float("inf") for c in results[DEFAULT_RANKER]]
            median = statistics.median(values)
            shown = f">{budget}" if median == float("inf") else f"{median:g}"
            verdict = "met" if median <= most else "MISSED"
            print(
                f"{DEFAULT_RANKER}: labels for {target:.0%}: median {shown} over {len(values)} seeds "
                f"(target <= {most}: {verdict})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="lr", help="comma-separated: lr, mlp (default: lr)")
    parser.add_argument("--rankers", default=",".join(RANKERS))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="3 seeds, 200 labels")
    args = parser.parse_args()
    seeds = 3 if args.quick else args.seeds
    budget = 200 if args.quick else args.budget
    print(
        f"digits, pool 70% / held out 30%, batches of 10, {seeds} seeds, budget {budget}; load average at the "
        f"start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    for kind in args.models.split(","):
        results: dict[str, list[dict[int, float]]] = {}
        detectors: dict[int, Any] = {}
        for ranker in args.rankers.split(","):
            started = time.perf_counter()
            results[ranker] = [simulate(kind, ranker, seed, budget, detectors) for seed in range(seeds)]
            print(f"  {kind} {ranker}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        report(kind, results, budget)


if __name__ == "__main__":
    main()
