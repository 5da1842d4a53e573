"""Scoring throughput of the autoencoder checker against the same network's plain ``model.predict``.

For 64-dimensional digits and 784-dimensional synthetic data (vectors, and the same data as 28x28 images for
the convolutional network), it times, on the same samples in the same run (median of ``--repeats``):

- ``detector.score``: reconstruction error, latent k-nearest-neighbour distance and their combination;
- ``detector.reconstruction_error``: the compiled network pass alone;
- ``model.predict``: Keras' own inference, at its default batch size (32) and at the detector's chunk (4096).

    .venv/bin/python benchmarks/checker_speed.py            # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.datasets import load_digits

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from scanflow_jupyter.checking import AutoencoderDetector


def median_rates(fns: dict[str, Callable[[], Any]], n: int, repeats: int) -> dict[str, float]:
    """Samples per second of each function: the median of ``repeats`` runs, taken in turns so that a busy
    machine slows every contender alike."""
    for fn in fns.values():
        fn()  # warm-up: traces the graph once
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: n / statistics.median(t) for name, t in times.items()}


def synthetic(n: int, rng: np.random.Generator) -> np.ndarray:
    """784-dim samples on [0, 1] with low-dimensional structure (10 latent factors), like small images."""
    basis = rng.normal(size=(10, 784)) / np.sqrt(10)
    return (1.0 / (1.0 + np.exp(-(rng.normal(size=(n, 10)) @ basis)))).astype(np.float32)


def measure(name: str, reference: np.ndarray, batch: np.ndarray, repeats: int, **settings: Any) -> list[str]:
    detector = AutoencoderDetector(progress=False, seed=0, **settings).fit(reference)
    model, n = detector.model, len(batch)
    rates = median_rates(
        {
            "detector.score": lambda: detector.score(batch),
            "detector.reconstruction_error": lambda: detector.reconstruction_error(batch),
            "model.predict (batch 32)": lambda: model.predict(batch, verbose=0),
            "model.predict (batch 4096)": lambda: model.predict(batch, batch_size=4096, verbose=0),
        },
        n,
        repeats,
    )
    base = rates["model.predict (batch 32)"]
    rows = []
    for label, rate in rates.items():
        rows.append(f"| {name} | {label} | {rate:,.0f} | {rate / base:.2f}x |")
    print(
        f"  {name}: {detector.facts['parameters']:,} parameters, fitted in {detector.facts['fit_seconds']} s",
        file=sys.stderr,
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=20_000, help="samples scored per timing")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)

    x, _ = load_digits(return_X_y=True)
    digits = (x / 16.0).astype(np.float32)
    digits_batch = digits[rng.integers(0, len(digits), args.samples)]
    images = synthetic(5000 + args.samples, rng)

    rows = measure("digits, 64-dim, dense", digits, digits_batch, args.repeats)
    rows += measure("synthetic, 784-dim, dense", images[:5000], images[5000:], args.repeats, epochs=10)
    square = images.reshape(-1, 28, 28)
    rows += measure("synthetic, 28x28, conv", square[:5000], square[5000:], args.repeats, epochs=10)

    print(f"Scoring throughput, samples/s (median of {args.repeats} runs of {args.samples:,} samples; 2 cores).")
    print()
    print("| data | what | samples/s | vs model.predict (batch 32) |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
