"""``IntegritySuite``: integrity checks fitted on reference data and run together on each batch.

The suite splits its ``alpha`` among its statistical checks (Bonferroni), so a batch drawn like the reference
fails any of them with probability at most ``alpha``; checks of facts (a schema, a category never seen) fail only
on a fact. A detector fits one on its reference data and runs it in every ``check``; it is usable alone too.

Example
-------
>>> suite = IntegritySuite().fit(reference_frame, labels=reference_labels)     # doctest: +SKIP
>>> report = suite.run(batch_frame, labels=batch_labels)                      # doctest: +SKIP
>>> report.passed, report.failed                                              # doctest: +SKIP
(False, ['ranges'])
>>> print(report.summary())                                                   # doctest: +SKIP
integrity: 1 of 6 checks failed
ranges: FAILED: feature 'age' has 3 values far outside the reference's range [18, 90] (e.g. -999)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import CheckerSettingsError
from .base import CheckData, CheckResult, IntegrityCheck, as_check_data
from .registry import DEFAULT_CHECKS, check_class

__all__ = ["IntegrityReport", "IntegritySuite"]

ARRAY_KEY = "__array__"


@dataclass(frozen=True)
class IntegrityReport:
    """The results of a suite's checks on one batch, in the suite's order."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[str]:
        """The names of the checks that failed."""
        return [r.check for r in self.results if not r.passed]

    def result(self, check: str) -> CheckResult:
        for r in self.results:
            if r.check == check:
                return r
        raise KeyError(f"no check {check!r} in this report: it has {', '.join(r.check for r in self.results)}")

    def summary(self) -> str:
        ran = [r for r in self.results if not r.skipped]
        head = (
            f"integrity: {len(ran)} checks passed"
            if self.passed
            else f"integrity: {len(self.failed)} of {len(ran)} checks failed"
        )
        return "\n".join([head, *(r.message for r in self.results if not r.passed)])

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.results]

    @classmethod
    def from_list(cls, data: Sequence[dict[str, Any]]) -> IntegrityReport:
        return cls([CheckResult.from_dict(d) for d in data])


class IntegritySuite:
    """Integrity checks by name (the registry's), fitted on reference data and run on batches.

    Parameters
    ----------
    checks
        ``"default"`` (every built-in check: schema, ranges, categories, missing values, duplicates, label and
        prior shift, feature drift, each where it applies), or names, or check objects.
    alpha
        The suite's false-alarm rate, split evenly among its statistical checks.
    settings
        Per check name, keyword settings for its constructor (``{"duplicates": {"resamples": 199}}``).
    """

    def __init__(
        self,
        checks: str | Sequence[str | IntegrityCheck] = "default",
        *,
        alpha: float = 0.05,
        settings: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        if not 0.0 < alpha < 1.0:
            raise CheckerSettingsError(f"the integrity checks' alpha must lie strictly between 0 and 1, got {alpha}")
        if isinstance(checks, str):
            if checks != "default":
                raise CheckerSettingsError(
                    f"checks={checks!r}: give 'default', a list of check names, or [] for no integrity checks"
                )
            checks = list(DEFAULT_CHECKS)
        self.requested = list(checks)
        self.alpha = alpha
        self.settings = dict(settings or {})
        names = [c if isinstance(c, str) else c.name for c in self.requested]
        for name in names:
            if isinstance(name, str):
                check_class(name)  # an unknown name fails now, naming the known ones
        self.checks: list[IntegrityCheck] = []
        self.feature_names: list[str] | None = None

    @property
    def names(self) -> list[str]:
        """The fitted checks' names (the requested ones that apply to the reference)."""
        return [c.name for c in self.checks]

    def fit(
        self,
        reference: Any,
        *,
        feature_names: Sequence[str] | None = None,
        labels: Any = None,
        predictions: Any = None,
    ) -> IntegritySuite:
        data = as_check_data(
            reference, feature_names=feature_names, labels=labels, predictions=predictions, what="the reference data"
        )
        candidates = [self._make(c) for c in self.requested]
        applying = [c for c in candidates if c.applies(data)]
        statistical = sum(1 for c in applying if c.statistical)
        for check in applying:
            check.alpha = self.alpha / statistical if check.statistical else self.alpha
            check.fit(data)
        self.checks = applying
        self.feature_names = list(feature_names) if feature_names is not None else None
        return self

    def run(self, batch: Any, *, labels: Any = None, predictions: Any = None) -> IntegrityReport:
        data = as_check_data(batch, feature_names=self.feature_names, labels=labels, predictions=predictions)
        return self.run_data(data)

    def run_data(self, data: CheckData) -> IntegrityReport:
        return IntegrityReport([check.run(data) for check in self.checks])

    def _make(self, check: str | IntegrityCheck) -> IntegrityCheck:
        if isinstance(check, IntegrityCheck):
            return check
        return check_class(check)(alpha=self.alpha, **self.settings.get(check, {}))

    # ------------------------------------------------------------------ saving

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray[Any, Any]]]:
        """``(JSON state, arrays)``: the arrays go to an ``.npz`` file, the state refers to them by key."""
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        checks = []
        for i, check in enumerate(self.checks):
            state = {key: _out(value, f"check{i}.{key}", arrays) for key, value in check.state().items()}
            checks.append({"name": check.name, "alpha": check.alpha, "settings": check.settings, "state": state})
        return {"alpha": self.alpha, "feature_names": self.feature_names, "checks": checks}, arrays

    @classmethod
    def from_state(cls, state: dict[str, Any], arrays: Any) -> IntegritySuite:
        suite = cls([c["name"] for c in state["checks"]], alpha=state["alpha"])
        suite.feature_names = state.get("feature_names")
        suite.checks = [
            check_class(c["name"]).from_state(
                {key: _in(value, arrays) for key, value in c["state"].items()},
                alpha=c["alpha"],
                settings=c.get("settings", {}),
            )
            for c in state["checks"]
        ]
        return suite

    def __repr__(self) -> str:
        return f"IntegritySuite({', '.join(self.names) or 'not fitted'}, alpha={self.alpha:g})"


def _out(value: Any, key: str, arrays: dict[str, np.ndarray[Any, Any]]) -> Any:
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {ARRAY_KEY: key}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _in(value: Any, arrays: Any) -> Any:
    if isinstance(value, dict) and set(value) == {ARRAY_KEY}:
        return np.asarray(arrays[value[ARRAY_KEY]])
    return value
