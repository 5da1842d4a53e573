"""The integrity checks scanflow ships (registered under the entry point group ``scanflow_jupyter.checks``).

Every statistical check is a test whose false-alarm rate is at most its ``alpha`` when the batch comes from the
reference distribution (samples exchangeable with the reference's); over many features, p-values are adjusted
with Benjamini-Hochberg (scipy's ``false_discovery_control``), which holds the chance of any false alarm at ``alpha``
when no feature changed. The statistics are scipy's, imported when a check first runs.

- ``schema``: the same features (names, count, order for arrays) of the same kinds (numeric or categorical).
- ``ranges``: numeric values outside the reference's range. Under exchangeability the number of batch values
  outside ``[min, max]`` of ``n`` reference values is at most beta-binomial ``(m, 2, n - 1)``; a value further out
  than the range's own width beyond it fails at once (a unit mix-up, a sentinel such as -999).
- ``categories``: categorical values the reference never had.
- ``missing_values``: more missing values than the reference's rate allows (Fisher's exact test, one-sided).
- ``duplicates``: more repeated rows within the batch than random reference subsets of its size have (a Monte
  Carlo test on row hashes).
- ``label_shift`` and ``prior_shift``: the class proportions of the batch's labels (or its model predictions)
  against the reference's (a permutation chi-square test of the 2 x k table); a class never seen fails at once.
- ``feature_drift``: each feature's distribution against the reference's: Kolmogorov-Smirnov for numeric
  features, chi-square for categorical ones.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt

from .base import CheckData, CheckResult, Column, Finding, IntegrityCheck, feature_label

__all__ = [
    "Categories",
    "Duplicates",
    "FeatureDrift",
    "LabelShift",
    "MissingValues",
    "PriorShift",
    "Ranges",
    "Schema",
    "adjusted",
]

MAX_REFERENCE = 2000  # reference values kept per feature for the drift tests (a seeded random subset)


def adjusted(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (scipy)."""
    if not p_values:
        return []
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(np.asarray(p_values, dtype=np.float64))]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _shared(batch: CheckData, names: list[str], kind: str) -> list[tuple[int, Column]]:
    """The batch's columns that the reference had with this kind, with their index in the reference."""
    out = []
    for i, name in enumerate(names):
        column = batch.column(name)
        if column is not None and column.kind == kind:
            out.append((i, column))
    return out


class Schema(IntegrityCheck):
    """The batch has the reference's features, of the same kinds (and, for arrays, the same sample shape)."""

    name = "schema"
    description = "the same features, of the same kinds"

    def fit(self, reference: CheckData) -> None:
        self.features = [[c.name, c.kind] for c in reference.columns]
        self.shape = list(reference.shape) if reference.shape is not None else None

    def run(self, batch: CheckData) -> CheckResult:
        findings: list[Finding] = []
        if self.shape is not None and batch.shape is not None and list(batch.shape) != self.shape:
            findings.append(
                Finding(None, f"samples of shape {tuple(batch.shape)}, the reference's are {tuple(self.shape)}")
            )
            return self.result(False, findings)
        expected = {name: kind for name, kind in self.features}
        got = {c.name: c.kind for c in batch.columns}
        for name, kind in self.features:
            if name not in got:
                findings.append(Finding(name, f"{feature_label(name)} is missing (the reference has it, {kind})"))
            elif got[name] != kind:
                findings.append(Finding(name, f"{feature_label(name)} is {got[name]}, the reference's is {kind}"))
        for name in got:
            if name not in expected:
                findings.append(Finding(name, f"{feature_label(name)} is new (the reference has no such feature)"))
        return self.result(not findings, findings, ok=f"{len(self.features)} features")


class Ranges(IntegrityCheck):
    """Numeric values inside the reference's range (see the module's docstring for the test)."""

    name = "ranges"
    statistical = True
    description = "numeric values within the reference's range"

    def fit(self, reference: CheckData) -> None:
        self.names, self.low, self.high, self.counts = [], [], [], []
        for column in reference.columns:
            if column.kind != "numeric":
                continue
            values = column.present()
            if len(values) == 0:
                continue
            self.names.append(column.name)
            self.low.append(float(values.min()))
            self.high.append(float(values.max()))
            self.counts.append(len(values))

    def run(self, batch: CheckData) -> CheckResult:
        from scipy.stats import betabinom

        tests: list[tuple[str, int, int, float, float, float]] = []
        hard: list[Finding] = []
        for i, column in _shared(batch, self.names, "numeric"):
            values = column.present()
            low, high, n = self.low[i], self.high[i], self.counts[i]
            outside = int(np.count_nonzero((values < low) | (values > high)))
            if outside == 0:
                continue
            width = high - low
            if width > 0:
                far = values[(values < low - width) | (values > high + width)]
                if len(far):
                    worst = float(far[np.argmax(np.abs(far - (low + high) / 2))])
                    hard.append(
                        Finding(
                            column.name,
                            f"{feature_label(column.name)} has {len(far)} values far outside the reference's range "
                            f"[{_fmt(low)}, {_fmt(high)}] (e.g. {_fmt(worst)})",
                            statistic=float(len(far)),
                            p_value=0.0,
                        )
                    )
                    continue
            # P(at least `outside` of m values outside [min, max] of n exchangeable ones).
            p = float(betabinom.sf(outside - 1, len(values), 2, max(1, n - 1)))
            tests.append((column.name, outside, len(values), low, high, p))
        adjusted_p = adjusted([t[-1] for t in tests])
        soft = [
            Finding(
                name,
                f"{feature_label(name)} has {outside} of {m} values outside the reference's range "
                f"[{_fmt(low)}, {_fmt(high)}] (adjusted p = {_fmt(p)})",
                statistic=float(outside),
                p_value=p,
            )
            for (name, outside, m, low, high, _), p in zip(tests, adjusted_p, strict=True)
            if p <= self.alpha
        ]
        findings = hard + sorted(soft, key=lambda f: f.p_value or 0.0)
        return self.result(
            not findings, findings, ok=f"{len(self.names)} numeric features", p_value=min(adjusted_p, default=1.0)
        )


class Categories(IntegrityCheck):
    """Categorical values the reference had; a value never seen fails."""

    name = "categories"
    description = "categorical values seen in the reference"

    def fit(self, reference: CheckData) -> None:
        self.names, self.seen = [], []
        for column in reference.columns:
            if column.kind == "categorical":
                self.names.append(column.name)
                self.seen.append(sorted({repr(v) for v in column.present()}))

    def applies(self, reference: CheckData) -> bool:
        return any(c.kind == "categorical" for c in reference.columns)

    def run(self, batch: CheckData) -> CheckResult:
        findings = []
        for i, column in _shared(batch, self.names, "categorical"):
            seen = set(self.seen[i])
            new = Counter(repr(v) for v in column.present() if repr(v) not in seen)
            if new:
                shown = ", ".join(f"{v} ({n}x)" for v, n in new.most_common(5))
                findings.append(
                    Finding(
                        column.name,
                        f"{feature_label(column.name)} has values the reference never had: {shown}",
                        statistic=float(sum(new.values())),
                    )
                )
        return self.result(not findings, findings, ok=f"{len(self.names)} categorical features")


class MissingValues(IntegrityCheck):
    """No more missing values than the reference's rate allows (Fisher's exact test per feature, adjusted)."""

    name = "missing_values"
    statistical = True
    description = "missing values no more frequent than in the reference"

    def fit(self, reference: CheckData) -> None:
        self.names = [c.name for c in reference.columns]
        self.missing = [int(c.missing().sum()) for c in reference.columns]
        self.n = reference.n_rows

    def run(self, batch: CheckData) -> CheckResult:
        from scipy.stats import fisher_exact

        tests = []
        for name, ref_missing in zip(self.names, self.missing, strict=True):
            column = batch.column(name)
            if column is None:
                continue
            missing = int(column.missing().sum())
            if missing == 0:
                continue
            m = batch.n_rows
            table = [[missing, m - missing], [ref_missing, self.n - ref_missing]]
            p = float(fisher_exact(table, alternative="greater").pvalue)
            tests.append((name, missing, m, ref_missing, p))
        adjusted_p = adjusted([t[-1] for t in tests])
        findings = [
            Finding(
                name,
                f"{feature_label(name)} is missing in {missing} of {m} samples ({missing / m:.1%}; the reference: "
                f"{ref / self.n:.1%}, adjusted p = {_fmt(p)})",
                statistic=float(missing),
                p_value=p,
            )
            for (name, missing, m, ref, _), p in zip(tests, adjusted_p, strict=True)
            if p <= self.alpha
        ]
        findings.sort(key=lambda f: f.p_value or 0.0)
        p_min = min(adjusted_p, default=1.0)
        return self.result(not findings, findings, ok=f"{len(self.names)} features", p_value=p_min)


class Duplicates(IntegrityCheck):
    """No more repeated rows than random reference subsets of the batch's size have (a Monte Carlo test)."""

    name = "duplicates"
    statistical = True
    description = "repeated rows no more frequent than in the reference"

    def __init__(
        self, alpha: float = 0.05, resamples: int = 499, seed: int = 0, max_reference: int = 5000, **settings: Any
    ) -> None:
        super().__init__(alpha, resamples=resamples, seed=seed, max_reference=max_reference, **settings)
        self.resamples = resamples
        self.seed = seed
        self.max_reference = max_reference

    def fit(self, reference: CheckData) -> None:
        keys = reference.row_keys()
        if len(keys) > self.max_reference:  # a subset repeats rows as often as the whole, per pair of rows
            keys = keys[np.random.default_rng(self.seed).choice(len(keys), self.max_reference, replace=False)]
        self.keys = keys

    def state(self) -> dict[str, Any]:
        return {"keys": self.keys}

    def run(self, batch: CheckData) -> CheckResult:
        keys = batch.row_keys()
        m = len(keys)
        observed = m - len(np.unique(keys))
        if observed == 0:
            return self.result(True, ok="no repeated rows")
        reference = np.asarray(self.keys, dtype=np.uint64)
        if m > len(reference):
            return self.result(True, ok=f"the batch is larger than the reference ({len(reference)} rows)", skipped=True)
        rng = np.random.default_rng(self.seed)
        draws = np.argpartition(rng.random((self.resamples, len(reference))), m - 1, axis=1)[:, :m]
        sampled = np.sort(reference[draws], axis=1)
        simulated = (sampled[:, 1:] == sampled[:, :-1]).sum(axis=1)
        p = float((1 + np.count_nonzero(simulated >= observed)) / (self.resamples + 1))
        if p > self.alpha:
            return self.result(True, ok=f"{observed} repeated rows, p = {_fmt(p)}", p_value=p)
        _, first = np.unique(keys, return_index=True)
        rows = sorted(int(i) for i in np.flatnonzero(~np.isin(np.arange(m), first)))
        shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
        expected = float(simulated.mean())
        finding = Finding(
            None,
            f"{observed} of {m} rows repeat an earlier row of the batch (rows {shown}); random reference samples of "
            f"{m} rows have {_fmt(expected)} on average (p = {_fmt(p)})",
            statistic=float(observed),
            p_value=p,
        )
        return self.result(False, [finding], p_value=p)


class LabelShift(IntegrityCheck):
    """The batch's class proportions against the reference's (``labels``; ``prior_shift``: ``predictions``)."""

    name = "label_shift"
    statistical = True
    description = "class proportions of the labels as in the reference"
    source = "labels"

    def __init__(self, alpha: float = 0.05, resamples: int = 999, seed: int = 0, **settings: Any) -> None:
        super().__init__(alpha, resamples=resamples, seed=seed, **settings)
        self.resamples = resamples
        self.seed = seed

    def _values(self, data: CheckData) -> npt.NDArray[Any] | None:
        values: npt.NDArray[Any] | None = getattr(data, self.source)
        return values

    def applies(self, reference: CheckData) -> bool:
        return self._values(reference) is not None

    def fit(self, reference: CheckData) -> None:
        values = self._values(reference)
        assert values is not None
        counts = Counter(repr(v) for v in values if v is not None)
        self.classes = sorted(counts)
        self.counts = [counts[c] for c in self.classes]

    def state(self) -> dict[str, Any]:
        return {"classes": self.classes, "counts": self.counts}

    def run(self, batch: CheckData) -> CheckResult:
        values = self._values(batch)
        if values is None:
            return self.result(True, ok=f"the batch came without {self.source}", skipped=True)
        counts = Counter(repr(v) for v in values if v is not None)
        new = {c: n for c, n in counts.items() if c not in self.classes}
        findings = []
        if new:
            shown = ", ".join(f"{c} ({n}x)" for c, n in sorted(new.items(), key=lambda t: -t[1])[:5])
            findings.append(
                Finding(
                    self.source, f"{self.source} has classes the reference never had: {shown}", float(sum(new.values()))
                )
            )
        known = [counts.get(c, 0) for c in self.classes]
        p = 1.0
        if sum(known) > 0 and len(self.classes) > 1:
            statistic, p = _chi_square_permutation(np.array(self.counts), np.array(known), self.resamples, self.seed)
            if p <= self.alpha:
                total, ref_total = sum(known), sum(self.counts)
                gaps = sorted(
                    ((c, n / total, r / ref_total) for c, n, r in zip(self.classes, known, self.counts, strict=True)),
                    key=lambda t: -abs(t[1] - t[2]),
                )[:3]
                shown = ", ".join(f"{c}: {share:.1%} (reference {ref:.1%})" for c, share, ref in gaps)
                findings.append(
                    Finding(
                        self.source,
                        f"the class proportions of {self.source} differ from the reference's ({shown}; p = {_fmt(p)})",
                        statistic=statistic,
                        p_value=p,
                    )
                )
        return self.result(not findings, findings, ok=f"{len(self.classes)} classes, p = {_fmt(p)}", p_value=p)


class PriorShift(LabelShift):
    """The class proportions of a model's predictions on the batch against those on the reference."""

    name = "prior_shift"
    description = "class proportions of the model's predictions as in the reference"
    source = "predictions"


class FeatureDrift(IntegrityCheck):
    """Each feature's distribution against the reference's (KS or chi-square, Benjamini-Hochberg adjusted)."""

    name = "feature_drift"
    statistical = True
    description = "each feature distributed as in the reference"

    def __init__(self, alpha: float = 0.05, max_reference: int = MAX_REFERENCE, seed: int = 0, **settings: Any) -> None:
        super().__init__(alpha, max_reference=max_reference, seed=seed, **settings)
        self.max_reference = max_reference
        self.seed = seed

    def fit(self, reference: CheckData) -> None:
        rows = np.arange(reference.n_rows)
        if len(rows) > self.max_reference:
            rows = np.sort(np.random.default_rng(self.seed).choice(rows, self.max_reference, replace=False))
        self.names = [c.name for c in reference.columns]
        self.kinds = [c.kind for c in reference.columns]
        numeric = [c.values[rows] for c in reference.columns if c.kind == "numeric"]
        self.numeric = np.column_stack(numeric) if numeric else np.zeros((len(rows), 0))
        self.categorical = [
            Counter(repr(v) for v in c.values[rows] if v is not None) for c in reference.columns if c.kind != "numeric"
        ]

    def state(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "kinds": self.kinds,
            "numeric": self.numeric,
            "categorical": [dict(c) for c in self.categorical],
        }

    def run(self, batch: CheckData) -> CheckResult:
        from scipy.stats import chi2_contingency, ks_2samp

        tests: list[tuple[str, str, float, float]] = []
        numeric_at = categorical_at = 0
        for name, kind in zip(self.names, self.kinds, strict=True):
            column = batch.column(name)
            if kind == "numeric":
                reference = np.asarray(self.numeric)[:, numeric_at]
                numeric_at += 1
                if column is None or column.kind != kind:
                    continue
                ref, values = reference[np.isfinite(reference)], column.present()
                if len(ref) == 0 or len(values) == 0:
                    continue
                if ref.min() == ref.max() == values.min() == values.max():
                    continue  # the same constant on both sides
                result = ks_2samp(values, ref)
                tests.append((name, "KS", float(result.statistic), float(result.pvalue)))
            else:
                counts = Counter(self.categorical[categorical_at])
                categorical_at += 1
                if column is None or column.kind != kind:
                    continue
                got = Counter(repr(v) for v in column.present())
                classes = sorted(set(counts) | set(got))
                if len(classes) < 2 or not got:
                    continue
                table = np.array([[counts.get(c, 0) for c in classes], [got.get(c, 0) for c in classes]])
                result = chi2_contingency(table, correction=False)
                tests.append((name, "chi-square", float(result.statistic), float(result.pvalue)))
        adjusted_p = adjusted([t[-1] for t in tests])
        findings = [
            Finding(
                name,
                f"{feature_label(name)} drifted ({test} {_fmt(statistic)}, adjusted p = {_fmt(p)})",
                statistic=statistic,
                p_value=p,
            )
            for (name, test, statistic, _), p in zip(tests, adjusted_p, strict=True)
            if p <= self.alpha
        ]
        findings.sort(key=lambda f: (f.p_value or 0.0, -(f.statistic or 0.0)))
        p_min = min(adjusted_p, default=1.0)
        if findings:
            head = Finding(None, f"{len(findings)} of {len(tests)} features drifted")
            return self.result(False, [head, *findings], p_value=p_min)
        return self.result(True, ok=f"{len(tests)} features, smallest adjusted p = {_fmt(p_min)}", p_value=p_min)


def _chi_square_permutation(
    reference: npt.NDArray[np.int64], batch: npt.NDArray[np.int64], resamples: int, seed: int
) -> tuple[float, float]:
    """Pearson's chi-square of the 2 x k table and its permutation p-value: with the pooled class counts fixed, a
    batch of its size drawn without replacement (multivariate hypergeometric) is what no shift means."""
    pooled = reference + batch
    keep = pooled > 0
    pooled, batch = pooled[keep], batch[keep]
    n_batch, total = int(batch.sum()), int(pooled.sum())
    expected = pooled * (n_batch / total)
    other = pooled * ((total - n_batch) / total)

    def statistic(b: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        r = pooled - b
        return np.asarray(((b - expected) ** 2 / expected).sum(axis=-1) + ((r - other) ** 2 / other).sum(axis=-1))

    observed = float(statistic(batch))
    draws = np.random.default_rng(seed).multivariate_hypergeometric(pooled, n_batch, size=resamples)
    simulated = statistic(draws)
    p = float((1 + np.count_nonzero(simulated >= observed - 1e-9 * max(1.0, observed))) / (resamples + 1))
    return observed, p
