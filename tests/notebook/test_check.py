"""``%scanflow check`` and the DriftReportView: a real fitted detector, real batches, a real MLflow store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from scanflow_jupyter.checking import AutoencoderDetector
from scanflow_jupyter.checking.report import DriftReport
from scanflow_jupyter.errors import InvalidDataError
from scanflow_jupyter.notebook import DriftReportView

Digits = tuple[np.ndarray, np.ndarray]


def _drifted(digits: Digits, share: float, n: int = 200, seed: int = 1) -> tuple[np.ndarray, list[str]]:
    """A batch of n unseen digits with ``share`` zeros (the class the detector never saw)."""
    x, y = digits
    rng = np.random.default_rng(seed)
    inliers = np.flatnonzero(y != 0)[800:]
    zeros = np.flatnonzero(y == 0)
    k = round(share * n)
    rows = np.concatenate([rng.choice(inliers, n - k, replace=False), rng.choice(zeros, k, replace=False)])
    return x[rows], [f"img-{r}" for r in rows]


@pytest.fixture
def drifted_report(fitted: AutoencoderDetector, digits: Digits) -> tuple[DriftReport, np.ndarray]:
    batch, ids = _drifted(digits, 0.3)
    return fitted.check(batch, ids=ids, top=4), batch


def test_view_carries_verdict_histogram_and_samples(drifted_report: tuple[DriftReport, np.ndarray]) -> None:
    report, batch = drifted_report
    assert report.drift
    view = DriftReportView(report, samples=batch, image_shape=(8, 8))
    assert view.summary["verdict"] == "drift" and view.summary["p_value"] == pytest.approx(report.p_value)
    assert view.image_shape == [8, 8]
    hist = view.histogram
    assert len(hist["edges"]) == len(hist["reference"]) + 1 == len(hist["batch"]) + 1
    assert sum(hist["batch"]) == report.batch_size and sum(hist["reference"]) == report.reference_size
    assert [s["id"] for s in view.samples] == report.top_ids
    first = view.samples[0]
    assert len(first["errors"]) == 64
    assert first["values"] == pytest.approx(batch[report.top[0].index].ravel().tolist())
    # The score lists stay in the kernel: only bin counts cross the wire.
    assert "reference_scores" not in view.get_state()
    # A frontend without the widget (or a saved notebook) shows the summary.
    text = view._repr_mimebundle_()["text/plain"]
    assert text.startswith("DRIFT: p = ") and "most anomalous: img-" in text


def test_view_of_tabular_samples_has_no_image_shape(drifted_report: tuple[DriftReport, np.ndarray]) -> None:
    report, _ = drifted_report
    view = DriftReportView(report)
    assert view.image_shape == [] and view.samples[0]["values"] is None
    assert len(view.samples[0]["top_features"]) == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_shape": (7, 9)}, r"image_shape \(7, 9\) does not fit samples of shape \(64,\)"),
        ({"samples": np.zeros((3, 64))}, r"samples of shape \(3, 64\) are not the batch the report checked"),
    ],
)
def test_view_bad_arguments(drifted_report: tuple[DriftReport, np.ndarray], kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidDataError, match=match):
        DriftReportView(drifted_report[0], **kwargs)


def test_check_magic_with_variables(
    shell: InteractiveShell, sf: Callable[[str], Any], fitted: AutoencoderDetector, digits: Digits
) -> None:
    clean, _ = _drifted(digits, 0.0, seed=2)
    shell.user_ns.update(detector=fitted, clean=clean)
    view = sf("check detector clean --image-shape 8x8 --top 3")
    assert isinstance(view, DriftReportView)
    assert view.summary["verdict"] == "no drift" and len(view.samples) == 3 and view.image_shape == [8, 8]


def test_check_magic_with_a_registered_model_and_a_file(
    shell: InteractiveShell, sf: Callable[[str], Any], fitted: AutoencoderDetector, digits: Digits, tmp_path: Path
) -> None:
    import mlflow

    sf("new shop")
    store = f"sqlite:///{tmp_path / 'shop' / '.scanflow' / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    try:
        mlflow.set_experiment("models")
        with mlflow.start_run():
            info = fitted.log_model(registered_model_name="digits-checker")
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    batch, ids = _drifted(digits, 0.3)
    np.savez(tmp_path / "shop" / "batch.npz", x=batch, ids=np.array(ids))
    # MLflow's current store is not the application's: the magic resolves the URI in the application's store.
    # The batch path is relative to the application folder; --log records a run in the application's store.
    view = sf(f"check {info.registered_uri} batch.npz --log")
    assert view.summary["verdict"] == "drift" and view.summary["model_uri"] == "models:/digits-checker/1"
    assert view.samples[0]["id"].startswith("img-")
    client = mlflow.MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("shop").experiment_id], "tags.`scanflow.check` = 'true'")
    assert run.info.status == "FINISHED"
    assert run.data.metrics["drift.detected"] == 1.0 and run.data.tags["scanflow.check.verdict"] == "drift"
    assert run.data.params["check.batch"] == "batch.npz"


@pytest.mark.parametrize(
    ("setup", "line", "match"),
    [
        ({}, "check nothing_here clean", r"'nothing_here' is neither a variable nor a model URI or folder"),
        ({"detector": 3}, "check detector clean", r"the variable 'detector' is a int, not an AutoencoderDetector"),
        ({}, "check detector missing.npz", r"batch file 'missing.npz' does not exist"),
        ({}, "check detector nope", r"'nope' is neither a variable nor a batch file"),
        ({"clean": np.zeros((0, 64))}, "check detector clean", r"the batch 'clean' has no samples"),
        ({"clean": np.zeros((5, 10))}, "check detector clean", r"shape \(10,\).*\(64,\)"),
        ({"clean": np.full((5, 64), np.nan)}, "check detector clean", r"NaN or infinite"),
        ({}, "check detector clean --alpha 2", r"--alpha: expected a number between 0 and 1, got 2"),
        ({}, "check detector clean --image-shape 8by8", r"expected HEIGHTxWIDTH such as 8x8, got '8by8'"),
        ({}, "check detector clean --log", r"--log records the check in the current application's store"),
        ({}, "check runs:/0123456789abcdef/detector clean", r"cannot load the model 'runs:/0123456789abcdef/detector'"),
    ],
)
def test_check_magic_bad_input(
    shell: InteractiveShell,
    sf: Callable[[str], Any],
    fitted: AutoencoderDetector,
    digits: Digits,
    setup: dict[str, Any],
    line: str,
    match: str,
) -> None:
    shell.user_ns.update(detector=fitted, clean=_drifted(digits, 0.0)[0])
    shell.user_ns.update(setup)
    with pytest.raises(UsageError, match=match):
        sf(line)


def test_checker_node_helper_makes_a_function_step() -> None:
    from scanflow_jupyter.checking import checker_node

    node = checker_node(model_uri="models:/digits-checker/1", batch="batch.npz", fail_on_drift=True, depends_on=["a"])
    assert node.function == "scanflow_jupyter.checking.step:check" and node.depends_on == ["a"]
    assert node.parameters["alpha"].type == "float" and node.parameters["fail-on-drift"].default is True


def test_view_carries_the_integrity_checks(fitted: AutoencoderDetector, digits: Digits) -> None:
    batch, ids = _drifted(digits, 0.0)
    broken = batch.copy()
    broken[:3, 20] = 4.0  # far outside every pixel's [0, 1]
    view = DriftReportView(fitted.check(broken, ids=ids))
    failed = [c for c in view.checks if not c["passed"]]
    assert [c["check"] for c in failed] == ["ranges"]
    assert failed[0]["message"].startswith("ranges: FAILED: feature '20' has 3 values far outside")
    assert view.timeline == {}


def test_check_magic_draws_a_sequence_batch_as_a_time_plot(shell: InteractiveShell, sf: Callable[[str], Any]) -> None:
    from scanflow_jupyter.checking import SequenceDetector

    t = np.arange(3000)
    rng = np.random.default_rng(0)
    series = np.c_[np.sin(t / 2), np.cos(t / 3)] + rng.normal(0, 0.05, (3000, 2))
    detector = SequenceDetector(window=16, filters=(8, 8), code_size=4, epochs=3, progress=False).fit(series)
    batch = series[:640].copy()
    batch[300:305, 0] += 5.0
    shell.user_ns.update(seq=detector, batch=batch)
    view = sf("check seq batch --top 2")
    assert isinstance(view, DriftReportView)
    assert view.image_shape == [] and view.samples[0]["values"] is None
    timeline = view.timeline
    assert len(timeline["windows"]) == 40 and timeline["features"] == ["0", "1"]
    assert any(w["over"] and w["start"] <= 300 < w["end"] for w in timeline["windows"])
    assert view.summary["batch_size"] == 40
