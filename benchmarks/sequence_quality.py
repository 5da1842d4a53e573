"""How well the sequence detector finds anomalous windows and drifting batches in synthetic multivariate series.

Each seed draws a process: three features, each a mixture of three periodic components (periods 12 to 90 steps,
random amplitudes and phases) mixed across features, plus Gaussian noise. A clean reference series of 20,000
steps trains the detector; a test series of 12,000 steps from the same process gets anomalous segments injected:

- **spike**: 1 to 3 steps of one feature pushed 4 to 8 standard deviations away;
- **level shift**: 20 to 60 steps of one or two features shifted by 1.5 to 3 standard deviations;
- **frequency change**: 48 to 128 steps in which one periodic component runs 1.8 to 2.5 times faster (or slower).

Windows of 32 steps tile the test series without overlap; a window is anomalous when it overlaps a segment. The
figures are per-window AUROC (normal windows against each kind, and against all), for the detector (``conv``, the
default, and ``lstm`` with ``--lstm``) and, on the same windows in the same run, two baselines:

- **rolling z-score**: each step's distance from the mean of the previous 64 steps, in their standard deviations,
  the largest over the window's steps and features;
- **isolation forest** (scikit-learn, 200 trees) fitted on the reference's windows (every 8 steps), flattened and
  standardised per feature.

Drift: batches of 40 windows (1,280 steps), clean or with 4 anomalous segments; the share declared drifting by
``detector.check`` (alpha 5%, the ``tail`` test) and, for clean batches, the false-alarm rate.

    .venv/bin/python benchmarks/sequence_quality.py                 # 5 seeds, conv; about 10 minutes on 2 cores
    .venv/bin/python benchmarks/sequence_quality.py --lstm --seeds 3
    .venv/bin/python benchmarks/sequence_quality.py --quick         # 1 seed, fewer epochs
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from scanflow_jupyter.checking import SequenceDetector

WINDOW = 32
FEATURES = 3
COMPONENTS = 3
KINDS = ("spike", "level shift", "frequency change")
TARGET_AUROC = 0.95  # our own bar: every kind, and above both baselines
DRIFT_SEGMENTS = 4
BATCH_STEPS = 40 * WINDOW


class Process:
    """A random multivariate periodic process: components mixed into features, plus noise."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.periods = rng.uniform(12, 90, COMPONENTS)
        self.phases = rng.uniform(0, 2 * np.pi, COMPONENTS)
        self.amplitudes = rng.uniform(0.5, 1.5, COMPONENTS)
        self.mixing = rng.normal(0, 1, (COMPONENTS, FEATURES))
        self.noise = rng.uniform(0.1, 0.2)

    def components(self, t: np.ndarray, speed: np.ndarray | None = None) -> np.ndarray:
        """(steps, components); ``speed`` (steps, components) multiplies each component's phase velocity."""
        velocity = 2 * np.pi / self.periods
        if speed is None:
            phase = t[:, None] * velocity
        else:  # integrate the changed velocity so the signal stays continuous
            phase = t[0] * velocity + np.cumsum(np.r_[np.zeros((1, COMPONENTS)), speed[1:] * velocity], axis=0)
        return self.amplitudes * np.sin(phase + self.phases)

    def sample(self, n: int, rng: np.random.Generator, speed: np.ndarray | None = None) -> np.ndarray:
        t = np.arange(n, dtype=np.float64)
        return self.components(t, speed) @ self.mixing + rng.normal(0, self.noise, (n, FEATURES))


def inject(process: Process, n: int, segments: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A series of ``n`` steps with ``segments`` anomalous segments (kinds in turn); per step, the kind (0: none)."""
    speed = np.ones((n, COMPONENTS))
    kind_at = np.zeros(n, dtype=int)
    plan = []
    slots = rng.permutation(np.arange(2, n // 256 - 1))[:segments]  # one segment per 256-step slot, never two
    for i, slot in enumerate(slots):
        kind = i % 3 + 1
        length = {1: rng.integers(1, 4), 2: rng.integers(20, 61), 3: rng.integers(48, 129)}[kind]
        start = int(slot * 256 + rng.integers(0, 256 - length))
        plan.append((kind, start, int(length)))
        if kind == 3:
            speed[start : start + length, rng.integers(COMPONENTS)] = rng.choice([0.45, rng.uniform(1.8, 2.5)])
    x = process.sample(n, rng, speed)
    scale = x.std(axis=0)
    for kind, start, length in plan:
        kind_at[start : start + length] = kind
        if kind == 1:
            f = rng.integers(FEATURES)
            x[start : start + length, f] += rng.choice([-1, 1]) * rng.uniform(4, 8) * scale[f]
        elif kind == 2:
            chosen = rng.choice(FEATURES, rng.integers(1, 3), replace=False)
            x[start : start + length, chosen] += rng.choice([-1, 1]) * rng.uniform(1.5, 3) * scale[chosen]
    return x, kind_at


def window_kinds(kind_at: np.ndarray) -> np.ndarray:
    """Each non-overlapping window's anomaly kind (the first it overlaps; 0: normal), as the detector tiles."""
    from scanflow_jupyter.checking.sequence import window_starts

    out = []
    for start in window_starts(len(kind_at), WINDOW, WINDOW):
        found = kind_at[start : start + WINDOW]
        out.append(int(found[found > 0][0]) if (found > 0).any() else 0)
    return np.asarray(out)


def tiles(x: np.ndarray) -> np.ndarray:
    from scanflow_jupyter.checking.sequence import window_starts

    starts = window_starts(len(x), WINDOW, WINDOW)
    return np.stack([x[s : s + WINDOW] for s in starts])


def rolling_z(x: np.ndarray, lookback: int = 64) -> np.ndarray:
    """Per window: the largest |step - trailing mean| / trailing std over its steps and features."""
    import pandas as pd

    frame = pd.DataFrame(x)
    past = frame.shift(1).rolling(lookback, min_periods=8)
    z = ((frame - past.mean()) / past.std()).abs().to_numpy()
    z = np.nan_to_num(z, nan=0.0).max(axis=1)
    return np.asarray([w.max() for w in tiles(z[:, None])[:, :, 0]])


def isolation_forest(reference: np.ndarray, x: np.ndarray, seed: int) -> np.ndarray:
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    starts = np.arange(0, len(reference) - WINDOW + 1, 8)
    train = np.stack([(reference[s : s + WINDOW] - mean) / std for s in starts]).reshape(len(starts), -1)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(train)
    test = ((tiles(x) - mean) / std).reshape(-1, WINDOW * FEATURES)
    return np.asarray(-forest.score_samples(test))


def aurocs(scores: np.ndarray, kinds: np.ndarray) -> dict[str, float]:
    out = {}
    normal = scores[kinds == 0]
    for k, name in enumerate(KINDS, start=1):
        anomalous = scores[kinds == k]
        labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
        out[name] = float(roc_auc_score(labels, np.r_[normal, anomalous]))
    out["all"] = float(roc_auc_score(kinds > 0, scores))
    return out


def run_seed(seed: int, architectures: list[str], epochs: int, drift_batches: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    process = Process(rng)
    reference = process.sample(20_000, rng)
    test, kind_at = inject(process, 12_000, 36, rng)
    kinds = window_kinds(kind_at)
    result: dict[str, Any] = {"auroc": {}, "drift": {}, "facts": {}}
    started = time.perf_counter()
    result["auroc"]["rolling z-score"] = aurocs(rolling_z(test), kinds)
    result["auroc"]["isolation forest"] = aurocs(isolation_forest(reference, test, seed), kinds)
    result["facts"]["baselines_seconds"] = time.perf_counter() - started
    clean = [process.sample(BATCH_STEPS, np.random.default_rng(seed * 1000 + i)) for i in range(drift_batches)]
    drifted = [
        inject(process, BATCH_STEPS, DRIFT_SEGMENTS, np.random.default_rng(seed * 1000 + 500 + i))[0]
        for i in range(drift_batches)
    ]
    for architecture in architectures:
        started = time.perf_counter()
        detector = SequenceDetector(window=WINDOW, architecture=architecture, epochs=epochs, seed=seed, progress=False)  # type: ignore[arg-type]
        detector.fit(reference)
        fit_seconds = time.perf_counter() - started
        scores = detector.scores(test)
        name = f"SequenceDetector ({architecture})"
        for kind in ("reconstruction", "latent", "combined"):
            label = name if kind == "combined" else f"  {architecture}: {kind} only"
            result["auroc"][label] = aurocs(scores.get(kind), kinds)
        started = time.perf_counter()
        found = [detector.check(b, n_permutations=999, top=0).drift for b in drifted]
        alarms = [detector.check(b, n_permutations=999, top=0).drift for b in clean]
        result["drift"][name] = {"detected": float(np.mean(found)), "false alarms": float(np.mean(alarms))}
        result["facts"][name] = {
            "fit_seconds": round(fit_seconds, 1),
            "epochs_run": detector.facts["epochs_run"],
            "n_calibration": detector.facts["n_calibration"],
            "check_seconds": round((time.perf_counter() - started) / (2 * drift_batches), 3),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--lstm", action="store_true", help="also the LSTM autoencoder (slower)")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--drift-batches", type=int, default=40, help="clean and drifted batches each, per seed")
    parser.add_argument("--quick", action="store_true", help="1 seed, 20 epochs, 10 drift batches")
    args = parser.parse_args(argv)
    seeds = list(range(1 if args.quick else args.seeds))
    epochs = 20 if args.quick else args.epochs
    batches = 10 if args.quick else args.drift_batches
    architectures = ["conv", "lstm"] if args.lstm else ["conv"]
    load = os.getloadavg()[0]
    runs = []
    for seed in seeds:
        started = time.perf_counter()
        runs.append(run_seed(seed, architectures, epochs, batches))
        print(f"  seed {seed}: {time.perf_counter() - started:.0f} s {runs[-1]['facts']}", file=sys.stderr, flush=True)
    print(
        f"Synthetic series: {FEATURES} features, windows of {WINDOW} steps; per-window AUROC, median over seeds "
        f"{', '.join(map(str, seeds))} [min-max]. Load average at the start: {load:.1f} on {os.cpu_count()} cores."
    )
    print()
    columns = (*KINDS, "all")
    print(f"| method | {' | '.join(columns)} |")
    print("|---|" + "---|" * len(columns))
    for method in runs[0]["auroc"]:
        cells = []
        for column in columns:
            values = [r["auroc"][method][column] for r in runs]
            cells.append(f"{statistics.median(values):.4f} [{min(values):.3f}-{max(values):.3f}]")
        print(f"| {method} | {' | '.join(cells)} |")
    print()
    for architecture in architectures:
        name = f"SequenceDetector ({architecture})"
        ours = {c: statistics.median(r["auroc"][name][c] for r in runs) for c in columns}
        best = {
            c: max(statistics.median(r["auroc"][b][c] for r in runs) for b in ("rolling z-score", "isolation forest"))
            for c in columns
        }
        beaten = [c for c in columns if ours[c] > best[c]]
        met = [c for c in columns if ours[c] >= TARGET_AUROC]
        print(
            f"{name}: above both baselines on {len(beaten)} of {len(columns)} columns ({', '.join(beaten) or 'none'}); "
            f"AUROC >= {TARGET_AUROC} (our bar) on {', '.join(met) or 'none'}"
        )
    print()
    print(f"Drift: batches of {BATCH_STEPS} steps (40 windows), {batches} clean and {batches} with {DRIFT_SEGMENTS} "
          "anomalous segments per seed; alpha 5%.")  # fmt: skip
    print()
    print("| detector | drifting batches caught (median [min-max]) | false alarms on clean batches | target |")
    print("|---|---|---|---|")
    for name in runs[0]["drift"]:
        found = [r["drift"][name]["detected"] for r in runs]
        alarms = [r["drift"][name]["false alarms"] for r in runs]
        print(
            f"| {name} | {statistics.median(found):.0%} [{min(found):.0%}-{max(found):.0%}] | "
            f"{statistics.median(alarms):.1%} [{min(alarms):.0%}-{max(alarms):.0%}] | false alarms 5% +- 2 points |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
