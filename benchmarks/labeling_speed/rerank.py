"""Time to re-rank a 70,000 x 784 synthetic pool (target: at most 2 s), against a plain ``predict_proba`` of the
same model on the same pool in the same run.

The pool is ten Gaussian clusters in 784 dimensions (MNIST-sized). A session labels 100 samples (its cold start and
ranked batches), retrains, and then each timed run asks for the next ranked batch of 10: the hybrid ranker's
uncertainty (modAL's margin on ``predict_proba`` of all unlabeled samples), typicality, and the diversity step, plus
the session's claim in the label store. The typicality of the pool is computed once per session (the pool does not
change); that one-time cost is printed apart.

Usage: ``python benchmarks/labeling_speed/rerank.py [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from scanflow_jupyter.active import LabelingSession, LabelStore
from scanflow_jupyter.active.rankers import typicality


def synthetic(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (10, d)).astype(np.float32)
    y = rng.integers(0, 10, n)
    x = centers[y] + rng.normal(0, 2.5, (n, d)).astype(np.float32)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 10,000-sample pool, 3 runs")
    args = parser.parse_args()
    n, runs = (10_000, 3) if args.quick else (70_000, 7)
    x, y = synthetic(n, 784)
    print(f"pool {n} x 784, {runs} runs each, medians", flush=True)

    started = time.perf_counter()
    typicality(x.astype(np.float64))
    print(f"typicality of the pool (once per session): {time.perf_counter() - started:.2f} s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        session = LabelingSession(
            x, LogisticRegression(max_iter=200), classes=range(10), name="speed", annotator="bench",
            store=LabelStore(Path(tmp) / "labels.db"), batch_size=10, control_share=0.1, retrain_every=0, seed=0,
        )  # fmt: skip
        while len(session.labels()) < 100:
            for sample in session.next_batch():
                session.label(sample.id, int(y[sample.index]))
        session.retrain(wait=True)
        session.next_batch()  # warm: typicality computed and cached
        model = session.model
        rerank, predict = [], []
        for _ in range(runs):
            # Take turns, so a busy machine slows both alike.
            session.store.release("speed", "bench")
            started = time.perf_counter()
            batch = session.next_batch()
            rerank.append(time.perf_counter() - started)
            assert len(batch) == 10
            started = time.perf_counter()
            model.predict_proba(session.x)
            predict.append(time.perf_counter() - started)
        session.close()
    r, p = statistics.median(rerank), statistics.median(predict)
    print(f"re-rank (next batch of 10 after a retrain): {r:.3f} s (target <= 2 s)")
    print(f"plain model.predict_proba on the pool:       {p:.3f} s; re-rank / predict_proba = {r / p:.1f}x")


if __name__ == "__main__":
    main()
