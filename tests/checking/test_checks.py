"""Integrity checks: each passes a batch drawn like its reference, fails a broken one with a message naming the
check and the feature; the registry finds plugins through entry points; a suite saves and loads."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scanflow_jupyter.checking.checks import (
    ENTRY_POINT_GROUP,
    CheckResult,
    Finding,
    IntegrityCheck,
    IntegritySuite,
    available_checks,
    check_class,
)
from scanflow_jupyter.errors import CheckerSettingsError, CheckPluginError, InvalidDataError

from ..conftest import TINY


def _frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(),
            "income": rng.lognormal(10, 0.5, n),
            "city": rng.choice(["paris", "lyon", "nice"], n, p=[0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    return _frame(2000, rng), rng.choice([0, 1, 2], 2000, p=[0.6, 0.3, 0.1])


def _clean(n: int = 300, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    return _frame(n, rng), rng.choice([0, 1, 2], n, p=[0.6, 0.3, 0.1])


def _suite(reference: tuple[pd.DataFrame, np.ndarray], check: str) -> IntegritySuite:
    frame, labels = reference
    return IntegritySuite([check]).fit(frame, labels=labels, predictions=labels)


def _schema_broken(batch: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    return batch.drop(columns=["income"]).assign(city=1.0), labels


def _far_out(batch: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    broken = batch.copy()
    broken.loc[:2, "age"] = -999.0
    return broken, labels


def _new_category(batch: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    broken = batch.copy()
    broken.loc[:4, "city"] = "marseille"
    return broken, labels


def _missing(batch: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    broken = batch.copy()
    broken.loc[:29, "income"] = np.nan
    return broken, labels


def _duplicated(batch: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    return pd.concat([batch, batch.iloc[:40]], ignore_index=True), np.r_[labels, labels[:40]]


def _shifted_labels(batch: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    shifted = labels.copy()
    shifted[:120] = 2
    return batch, shifted


def _drifted(batch: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    return batch.assign(income=batch["income"] * 1.6), labels


@pytest.mark.parametrize(
    ("check", "breaking", "message"),
    [
        ("schema", _schema_broken, r"schema: FAILED: feature 'income' is missing.*feature 'city' is numeric"),
        ("ranges", _far_out, r"ranges: FAILED: feature 'age' has 3 values far outside the reference's range"),
        ("categories", _new_category, r"categories: FAILED: feature 'city' has values the reference never had: 'marse"),
        ("missing_values", _missing, r"missing_values: FAILED: feature 'income' is missing in 30 of 300 samples"),
        (
            "duplicates",
            _duplicated,
            r"duplicates: FAILED: 40 of 340 rows repeat an earlier row of the batch \(rows 300",
        ),
        ("label_shift", _shifted_labels, r"label_shift: FAILED: the class proportions of labels differ.*2: 4[0-9.]+%"),
        ("feature_drift", _drifted, r"feature_drift: FAILED: 1 of 3 features drifted; feature 'income' drifted \(KS"),
    ],
)
def test_each_check_passes_a_clean_batch_and_fails_a_broken_one(
    reference: tuple[pd.DataFrame, np.ndarray], check: str, breaking: Any, message: str
) -> None:
    suite = _suite(reference, check)
    assert suite.names == [check]
    batch, labels = _clean()
    clean = suite.run(batch, labels=labels, predictions=labels)
    assert clean.passed, clean.summary()
    assert clean.results[0].message.startswith(f"{check}: passed")
    broken, broken_labels = breaking(batch, labels)
    result = suite.run(broken, labels=broken_labels, predictions=broken_labels).result(check)
    assert not result.passed
    assert result.findings
    assert pytest.approx(0.05) == suite.alpha
    import re

    assert re.search(message, result.message), result.message


def test_prior_shift_reads_the_predictions(reference: tuple[pd.DataFrame, np.ndarray]) -> None:
    suite = _suite(reference, "prior_shift")
    batch, labels = _clean()
    assert suite.run(batch, labels=labels, predictions=labels).passed
    predicted = np.zeros_like(labels)  # a model that now predicts one class only
    result = suite.run(batch, labels=labels, predictions=predicted).result("prior_shift")
    assert not result.passed
    assert "prior_shift: FAILED: the class proportions of predictions differ" in result.message
    unseen = suite.run(batch, predictions=np.full_like(labels, 7)).result("prior_shift")
    assert "predictions has classes the reference never had: 7 (300x)" in unseen.message


def test_a_shifted_range_fails_by_the_beta_binomial_test() -> None:
    rng = np.random.default_rng(0)
    suite = IntegritySuite(["ranges"]).fit(rng.uniform(0, 1, (1000, 2)), feature_names=["a", "b"])
    assert suite.run(rng.uniform(0, 1, (200, 2))).passed
    result = suite.run(np.c_[rng.uniform(0, 1, 200), rng.uniform(0.1, 1.1, 200)]).result("ranges")
    assert not result.passed
    assert "feature 'b' has" in result.message and "values outside the reference's range [" in result.message


def test_label_checks_are_skipped_without_labels(reference: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, labels = reference
    assert "label_shift" not in IntegritySuite().fit(frame).names  # nothing to compare with
    suite = IntegritySuite(["label_shift"]).fit(frame, labels=labels)
    result = suite.run(_clean()[0]).results[0]
    assert result.passed and result.skipped and "without labels" in result.message


def test_the_suite_splits_alpha_among_its_statistical_checks(reference: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, labels = reference
    suite = IntegritySuite(alpha=0.06).fit(frame, labels=labels)
    alphas = {c.name: c.alpha for c in suite.checks}
    statistical = [c for c in suite.checks if c.statistical]
    assert len(statistical) == 5  # ranges, missing values, duplicates, label shift, feature drift
    assert all(a == pytest.approx(0.012) for n, a in alphas.items() if n not in ("schema", "categories"))


def test_clean_batches_rarely_fail_the_default_suite(reference: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, labels = reference
    suite = IntegritySuite().fit(frame, labels=labels)
    failed = 0
    for seed in range(20):
        batch, labels = _clean(200, seed + 10)
        failed += not suite.run(batch, labels=labels).passed
    assert failed <= 3  # at most alpha = 5% of them on average; 20 batches leave room for chance


def test_arrays_name_features_by_index_and_images_by_position() -> None:
    rng = np.random.default_rng(0)
    suite = IntegritySuite(["ranges"]).fit(rng.uniform(0, 1, (500, 2, 3)))
    bad = rng.uniform(0, 1, (50, 2, 3))
    bad[0, 1, 2] = 9.0
    assert "feature '1,2' has 1 values far outside" in suite.run(bad).results[0].message
    with pytest.raises(InvalidDataError, match="3 feature names for 6 features"):
        IntegritySuite(["ranges"]).fit(rng.uniform(0, 1, (50, 6)), feature_names=["a", "b", "c"])


def test_a_suite_round_trips_through_its_state(reference: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, labels = reference
    suite = IntegritySuite().fit(frame, labels=labels)
    state, arrays = suite.to_state()
    import json

    again = IntegritySuite.from_state(json.loads(json.dumps(state)), arrays)
    batch, batch_labels = _drifted(*_clean())
    assert again.names == suite.names
    assert again.run(batch, labels=batch_labels).to_list() == suite.run(batch, labels=batch_labels).to_list()
    result = again.run(batch).result("feature_drift")
    assert CheckResult.from_dict(result.to_dict()) == result


def test_unknown_checks_and_settings_are_refused() -> None:
    with pytest.raises(CheckPluginError, match=r"no integrity check is named 'sanity': use one of categories, "):
        IntegritySuite(["schema", "sanity"])
    with pytest.raises(CheckerSettingsError, match="checks='all': give 'default', a list of check names, or"):
        IntegritySuite("all")
    with pytest.raises(CheckerSettingsError, match="alpha must lie strictly between 0 and 1"):
        IntegritySuite(alpha=1.5)


class NonNegative(IntegrityCheck):
    """A plugin: numeric features that were never negative stay so."""

    name = "non_negative"

    def fit(self, reference: Any) -> None:
        self.columns = [c.name for c in reference.columns if c.kind == "numeric" and (c.present() >= 0).all()]

    def run(self, batch: Any) -> CheckResult:
        bad = [c.name for c in batch.columns if c.name in self.columns and (c.present() < 0).any()]
        return self.result(not bad, [Finding(n, f"feature {n!r} has negative values") for n in bad])


class _EntryPoint:
    def __init__(self, name: str, value: str, target: Any) -> None:
        self.name, self.value, self.group, self._target = name, value, ENTRY_POINT_GROUP, target

    def load(self) -> Any:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def _with_entry_points(monkeypatch: pytest.MonkeyPatch, *points: _EntryPoint) -> None:
    real = metadata.entry_points

    def entry_points(**kwargs: Any) -> Any:
        if kwargs.get("group") == ENTRY_POINT_GROUP:
            return list(points)
        return real(**kwargs)

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def test_a_plugin_registered_as_an_entry_point_runs_in_a_detector_and_round_trips(
    monkeypatch: pytest.MonkeyPatch, digits: Any, tmp_path: Any
) -> None:
    _with_entry_points(monkeypatch, _EntryPoint("non_negative", "my_package.checks:NonNegative", NonNegative))
    assert available_checks()["non_negative"] == "my_package.checks:NonNegative"
    assert check_class("non_negative") is NonNegative
    from scanflow_jupyter.checking import AutoencoderDetector
    from scanflow_jupyter.checking.mlflow_model import detector_from_files, save_detector_files

    x, _ = digits
    detector = AutoencoderDetector(**{**TINY, "epochs": 3}, checks=["schema", "non_negative"]).fit(x[:300])
    bad = x[300:340].copy()
    bad[5, 9] = -0.5
    report = detector.check(bad)
    assert report.failed_checks == ["non_negative"]
    assert "non_negative: FAILED: feature '9' has negative values" in report.summary()
    save_detector_files(detector, tmp_path / "model")
    loaded = detector_from_files(tmp_path / "model")
    assert loaded.check(bad).failed_checks == ["non_negative"]


def test_a_broken_plugin_says_which_entry_point_and_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_entry_points(
        monkeypatch,
        _EntryPoint("broken", "gone.module:Check", ImportError("No module named 'gone'")),
        _EntryPoint("not_a_check", "pkg:function", len),
    )
    with pytest.raises(CheckPluginError, match=r"the check 'broken' \(entry point 'gone.module:Check' of group "):
        IntegritySuite(["broken"])
    with pytest.raises(CheckPluginError, match="is a builtin_function_or_method, not an IntegrityCheck subclass"):
        IntegritySuite(["not_a_check"])


def test_our_checks_are_declared_as_entry_points_in_pyproject() -> None:
    import tomllib
    from pathlib import Path

    from scanflow_jupyter.checking.checks import BUILTIN_CHECKS

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    declared = project["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert set(declared) == set(BUILTIN_CHECKS)
    for name, value in declared.items():
        module, attr = value.split(":")
        import importlib

        assert getattr(importlib.import_module(module), attr) is BUILTIN_CHECKS[name]
