"""How well the autoencoder checker finds anomalies and drift on scikit-learn's digits.

Prints one table of per-sample AUROC (one class, hold one digit out, Gaussian pixel noise) for each score kind,
and one of the batch drift test's detection and false-alarm rates. See benchmarks/README.md for the protocol.

    .venv/bin/python benchmarks/checker_quality.py            # about two minutes on 2 cores
    .venv/bin/python benchmarks/checker_quality.py --quick    # a smoke run: 3 digits, 20 trials each
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from scanflow_jupyter.checking import SCORE_KINDS, AutoencoderDetector, drift_test

TARGETS = {"one class": 0.99, "hold one digit out": 0.95, "pixel noise 0.1": 0.99}
SHARES = (0.20, 0.10, 0.05, 0.0)
DETECTION_TARGETS = {0.20: 0.90, 0.10: 0.60}
BATCH = 200
ALPHA = 0.05


@dataclass
class Holdout:
    """A detector fitted on nine digits, its unseen inlier pool and the tenth digit's samples."""

    digit: int
    detector: AutoencoderDetector
    pool_scores: np.ndarray  # calibration + test inliers: none seen in training
    test_scores: np.ndarray  # test inliers only (the detector's calibration set excluded)
    novel_scores: np.ndarray
    test_share_over: float
    facts: dict[str, Any] = field(default_factory=dict)


def auroc(inliers: np.ndarray, anomalies: np.ndarray) -> float:
    labels = np.r_[np.zeros(len(inliers)), np.ones(len(anomalies))]
    return float(roc_auc_score(labels, np.r_[inliers, anomalies]))


def split(indices: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shuffled = rng.permutation(indices)
    cut = round(len(shuffled) * share)
    return shuffled[:cut], shuffled[cut:]


def one_class(x: np.ndarray, y: np.ndarray, digits: list[int], seed: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {kind: [] for kind in SCORE_KINDS}
    for d in digits:
        rng = np.random.default_rng(seed + d)
        reference, test = split(np.flatnonzero(y == d), 0.7, rng)
        detector = AutoencoderDetector(seed=seed + d, progress=False).fit(x[reference])
        inliers, anomalies = detector.scores(x[test]), detector.scores(x[y != d])
        for kind in SCORE_KINDS:
            out[kind].append(auroc(inliers.get(kind), anomalies.get(kind)))
        print(
            f"  one class {d}: AUROC {out['combined'][-1]:.4f} ({detector.facts['epochs_run']} epochs)", file=sys.stderr
        )
    return out


def hold_one_out(
    x: np.ndarray, y: np.ndarray, digits: list[int], seed: int
) -> tuple[dict[str, list[float]], list[Holdout]]:
    out: dict[str, list[float]] = {kind: [] for kind in SCORE_KINDS}
    holdouts = []
    for d in digits:
        rng = np.random.default_rng(seed + 100 + d)
        reference, test = split(np.flatnonzero(y != d), 0.75, rng)
        detector = AutoencoderDetector(seed=seed + d, progress=False).fit(x[reference])
        inliers, novel = detector.scores(x[test]), detector.scores(x[y == d])
        for kind in SCORE_KINDS:
            out[kind].append(auroc(inliers.get(kind), novel.get(kind)))
        kind = detector.score_kind
        holdouts.append(
            Holdout(
                digit=d,
                detector=detector,
                pool_scores=np.r_[detector.calibration_scores[kind], inliers.get(kind)],
                test_scores=inliers.get(kind),
                novel_scores=novel.get(kind),
                test_share_over=float((inliers.get(kind) > detector.threshold).mean()),
                facts=detector.facts,
            )
        )
        print(
            f"  hold out {d}: AUROC {out['combined'][-1]:.4f} ({detector.facts['epochs_run']} epochs)", file=sys.stderr
        )
    return out, holdouts


def pixel_noise(x: np.ndarray, seed: int, sigma: float = 0.1) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed + 200)
    reference, test = split(np.arange(len(x)), 0.75, rng)
    detector = AutoencoderDetector(seed=seed, progress=False).fit(x[reference])
    noisy = np.clip(x[test] + rng.normal(0.0, sigma, size=x[test].shape), 0.0, 1.0)
    clean, dirty = detector.scores(x[test]), detector.scores(noisy)
    return {kind: [auroc(clean.get(kind), dirty.get(kind))] for kind in SCORE_KINDS}


def drift_rates(holdouts: list[Holdout], trials: int, seed: int, permutations: int) -> dict[str, dict[float, float]]:
    """Share of batches declared drifting, per share of new-class samples.

    ``redrawn``: each trial draws the batch's inliers and a reference set (the rest) afresh from the pool of
    inliers no network saw (calibration + test samples): the setting the test's guarantee is about.
    ``deployed``: ``detector.check``'s setting: the detector's own fixed calibration scores against batches drawn
    from the test inliers.
    """
    rates: dict[str, dict[float, list[bool]]] = {"redrawn": {}, "deployed": {}}
    for h in holdouts:
        rng = np.random.default_rng(seed + 300 + h.digit)
        calibration = h.detector.calibration_scores[h.detector.score_kind]
        for share in SHARES:
            n_new = round(BATCH * share)
            for trial in range(trials):
                new = rng.choice(h.novel_scores, n_new, replace=False)
                pool = rng.permutation(h.pool_scores)
                batch, reference = np.r_[pool[: BATCH - n_new], new], pool[BATCH - n_new :]
                test_seed = int(rng.integers(2**31))
                result = drift_test(reference, batch, alpha=ALPHA, n_permutations=permutations, seed=test_seed)
                rates["redrawn"].setdefault(share, []).append(result.drift)
                deployed_batch = np.r_[rng.choice(h.test_scores, BATCH - n_new, replace=False), new]
                result = drift_test(calibration, deployed_batch, alpha=ALPHA, n_permutations=permutations, seed=trial)
                rates["deployed"].setdefault(share, []).append(result.drift)
    return {mode: {share: float(np.mean(v)) for share, v in by.items()} for mode, by in rates.items()}


def deployed_spread(holdouts: list[Holdout], trials: int, seed: int, permutations: int) -> list[float]:
    """False-alarm rate of each detector's fixed calibration set (no new class)."""
    out = []
    for h in holdouts:
        rng = np.random.default_rng(seed + 400 + h.digit)
        calibration = h.detector.calibration_scores[h.detector.score_kind]
        hits = [
            drift_test(
                calibration,
                rng.choice(h.test_scores, BATCH, replace=False),
                alpha=ALPHA,
                n_permutations=permutations,
                seed=t,
            ).drift
            for t in range(trials)
        ]
        out.append(float(np.mean(hits)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100, help="drift trials per held-out digit and share (100)")
    parser.add_argument("--permutations", type=int, default=999, help="random splits per drift test (999)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 digits, 20 trials: a smoke run")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    digits = [0, 3, 8] if args.quick else list(range(10))
    trials = 20 if args.quick else args.trials

    x_all, y = load_digits(return_X_y=True)
    x = (x_all / 16.0).astype(np.float32)  # pixels on [0, 1]
    started = time.perf_counter()
    auc_one = one_class(x, y, digits, args.seed)
    auc_hold, holdouts = hold_one_out(x, y, digits, args.seed)
    auc_noise = pixel_noise(x, args.seed)
    fit_seconds = time.perf_counter() - started
    drift_started = time.perf_counter()
    rates = drift_rates(holdouts, trials, args.seed, args.permutations)
    spread = deployed_spread(holdouts, trials, args.seed, args.permutations)
    drift_seconds = time.perf_counter() - drift_started

    rows = [("one class", auc_one), ("hold one digit out", auc_hold), ("pixel noise 0.1", auc_noise)]
    print(
        f"Per-sample AUROC on digits (mean over {len(digits)} digits; min in brackets). "
        "Targets apply to `combined`, the default score."
    )
    print()
    print("| task | reconstruction | latent kNN | combined | target | met |")
    print("|---|---|---|---|---|---|")
    for name, aucs in rows:
        cells = [
            f"{np.mean(aucs[k]):.4f}" + (f" [{np.min(aucs[k]):.3f}]" if len(aucs[k]) > 1 else "") for k in SCORE_KINDS
        ]
        met = np.mean(aucs["combined"]) >= TARGETS[name]
        print(f"| {name} | {' | '.join(cells)} | >= {TARGETS[name]} | {'yes' if met else 'NO'} |")
    print()
    per_digit = ", ".join(f"{d}: {a:.3f}" for d, a in zip(digits, auc_hold["combined"], strict=True))
    print(f"hold one digit out, combined, per digit: {per_digit}")
    per_digit = ", ".join(f"{d}: {a:.3f}" for d, a in zip(digits, auc_one["combined"], strict=True))
    print(f"one class, combined, per digit: {per_digit}")
    share_over = np.mean([h.test_share_over for h in holdouts])
    print(
        f"per-sample threshold at a false-alarm rate of 5%: {share_over:.2%} of unseen inliers above it "
        "(mean over the hold-one-out detectors)"
    )
    print()
    n_trials = trials * len(holdouts)
    print(
        f"Drift test (savage, alpha {ALPHA}), batches of {BATCH}, {n_trials} trials per row "
        f"({trials} per held-out digit)."
    )
    print()
    print("| new-class share | re-drawn reference | fixed calibration set (detector.check) | target |")
    print("|---|---|---|---|")
    for share in SHARES:
        if share == 0.0:
            target = f"{ALPHA:.0%} +- 2 points"
            label = "0% (false alarms)"
        else:
            target = f">= {DETECTION_TARGETS[share]:.0%}" if share in DETECTION_TARGETS else "(none)"
            label = f"{share:.0%}"
        print(f"| {label} | {rates['redrawn'][share]:.1%} | {rates['deployed'][share]:.1%} | {target} |")
    print()
    print(
        "false alarms of each detector's fixed calibration set: "
        + ", ".join(f"{h.digit}: {r:.0%}" for h, r in zip(holdouts, spread, strict=True))
    )
    reference_sizes = sorted({h.facts["n_calibration"] for h in holdouts})
    print(f"(calibration sets of {reference_sizes[0]}-{reference_sizes[-1]} samples against batches of {BATCH})")
    print()
    print(f"time: fitting and scoring {fit_seconds:.0f} s, drift trials {drift_seconds:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "auroc": {name: aucs for name, aucs in rows},
                    "drift": {mode: {str(k): v for k, v in by.items()} for mode, by in rates.items()},
                    "deployed_false_alarms": spread,
                    "threshold_share_over": share_over,
                },
                fh,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
