"""The checker step: score a batch file with a logged detector and record the verdict in MLflow.

As a workflow node::

    - name: check
      function: scanflow_jupyter.checking.step:check
      parameters:
        model-uri: models:/digits-checker/1
        batch: data/batch.npz

The engine starts the step with ``MLFLOW_RUN_ID`` set, so the results land in the step's own child run. An
agent calls :func:`check` in-process; it logs into the active run, or starts one.

Logged: metrics ``drift.p_value``, ``drift.detected`` (1 or 0), ``drift.share_over_threshold``,
``drift.n_over_threshold``, ``drift.batch_size``, and for the integrity checks ``integrity.failed`` (how many
failed) and ``integrity.CHECK.passed`` (1 or 0, one per check that ran); params ``check.model_uri``,
``check.batch``, ``check.alpha``, ``check.test``; tags ``scanflow.check.verdict``, ``scanflow.check.top_ids`` and
``scanflow.check.failed_checks``; the whole report (integrity results included) as the artifact
``check/drift_report.json``. The same step checks sequence detectors' batches (a ``.npy`` series).
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..errors import DriftDetectedError, IntegrityCheckFailedError
from ..workflow import Executor, Parameter
from ..workflow.params import ParamValue, infer_type
from .data import load_batch
from .report import DriftReport

__all__ = [
    "CHECK_FUNCTION",
    "REPORT_ARTIFACT",
    "check",
    "checker_node",
    "log_report",
    "record_report",
    "report_metrics",
    "report_tags",
]

_TAG_LIMIT = 5000  # MLflow tag values are capped (8000 characters on SQLite)
REPORT_ARTIFACT = "check/drift_report.json"
CHECK_FUNCTION = f"{__name__}:check"


def report_metrics(report: DriftReport) -> dict[str, float]:
    """The metrics a checked batch logs: p-value, verdict (1 or 0), threshold share and counts."""
    metrics = {
        "drift.p_value": report.p_value,
        "drift.detected": 1.0 if report.drift else 0.0,
        "drift.share_over_threshold": report.share_over_threshold,
        "drift.n_over_threshold": float(report.n_over_threshold),
        "drift.batch_size": float(report.batch_size),
    }
    ran = [c for c in report.checks if not c.skipped]
    if ran:
        metrics["integrity.failed"] = float(len(report.failed_checks))
        metrics.update({f"integrity.{c.check}.passed": 1.0 if c.passed else 0.0 for c in ran})
    return metrics


def report_tags(report: DriftReport) -> dict[str, str]:
    """The tags a checked batch logs: the verdict and the ids of its most anomalous samples."""
    ids = ",".join(report.top_ids)
    tags = {
        "scanflow.check.verdict": report.verdict,
        "scanflow.check.top_ids": ids if len(ids) <= _TAG_LIMIT else ids[: _TAG_LIMIT - 3] + "...",
    }
    if report.checks:
        tags["scanflow.check.failed_checks"] = ",".join(report.failed_checks)
    return tags


def log_report(report: DriftReport, *, artifact_file: str = REPORT_ARTIFACT) -> None:
    """Log a report's verdict, p-value, threshold share and top ids to the active MLflow run."""
    import mlflow

    mlflow.log_metrics(report_metrics(report))
    mlflow.set_tags(report_tags(report))
    mlflow.log_dict(report.to_dict(), artifact_file)


def record_report(
    report: DriftReport,
    *,
    tracking_uri: str,
    experiment_id: str,
    params: dict[str, Any],
    run_name: str = "check",
) -> str:
    """Record a report as a finished MLflow run of its own (what ``%scanflow check --log`` does); returns its id.

    Unlike :func:`log_report`, this touches no global MLflow state (no active run, no current store).
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(tracking_uri)
    run = client.create_run(experiment_id, run_name=run_name, tags={"scanflow.check": "true", **report_tags(report)})
    run_id = str(run.info.run_id)
    now = int(time.time() * 1000)
    try:
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, now, 0) for key, value in report_metrics(report).items()],
            params=[Param(key, str(value)) for key, value in params.items()],
        )
        client.log_dict(run_id, report.to_dict(), REPORT_ARTIFACT)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def checker_node(
    name: str = "check",
    *,
    model_uri: str,
    batch: str,
    alpha: float = 0.05,
    test: str = "tail",
    top: int = 10,
    fail_on_drift: bool = False,
    fail_on_checks: bool = False,
    depends_on: list[str] | None = None,
) -> Executor:
    """A workflow node that checks ``batch`` with the detector at ``model_uri`` (it calls :func:`check`).

    Example
    -------
    >>> from scanflow_jupyter.checking import checker_node
    >>> node = checker_node(model_uri="models:/digits-checker/1", batch="data/batch.npz", depends_on=["gather"])
    >>> node.function
    'scanflow_jupyter.checking.step:check'
    """
    values: dict[str, ParamValue] = {
        "model-uri": model_uri,
        "batch": batch,
        "alpha": alpha,
        "test": test,
        "top": top,
        "fail-on-drift": fail_on_drift,
        "fail-on-checks": fail_on_checks,
    }
    return Executor(
        name=name,
        function=CHECK_FUNCTION,
        parameters={key: Parameter(type=infer_type(value), default=value) for key, value in values.items()},
        depends_on=list(depends_on or []),
    )


def check(
    model_uri: str,
    batch: str,
    alpha: float = 0.05,
    test: str = "tail",
    top: int = 10,
    fail_on_drift: bool = False,
    fail_on_checks: bool = False,
) -> dict[str, Any]:
    """Check the batch file ``batch`` with the detector at ``model_uri`` and log the outcome to MLflow.

    Parameters
    ----------
    model_uri
        A detector logged with ``detector.log_model`` (``models:/name/version``, ``runs:/...``).
    batch
        A ``.npy``, ``.npz`` (``x`` and optional ``ids``) or ``.csv`` file (optional ``id`` column).
    alpha
        The batch false-alarm rate: drift is declared when the p-value is at most ``alpha``.
    test
        ``tail`` (default), ``savage``, ``mann-whitney`` or ``ks``.
    top
        How many of the most anomalous samples to name.
    fail_on_drift
        Raise :class:`~scanflow_jupyter.errors.DriftDetectedError` (the step fails, and the steps after it are
        skipped) when the batch drifted, after logging.
    fail_on_checks
        Raise :class:`~scanflow_jupyter.errors.IntegrityCheckFailedError` when an integrity check failed (a value
        far out of range, a schema change, label shift, ...), after logging.

    Returns
    -------
    dict
        ``verdict``, ``p_value``, ``share_over_threshold``, ``top_ids``, ``failed_checks`` and ``run_id``.

    Example
    -------
    >>> check("models:/digits-checker/1", "batch.npz")          # doctest: +SKIP
    {'verdict': 'drift', 'p_value': 0.0005, 'share_over_threshold': 0.23, 'top_ids': [...], 'run_id': '...'}
    """
    import mlflow

    from .mlflow_model import load_detector

    detector = load_detector(model_uri)
    data = load_batch(batch)
    report = detector.check(
        data.x,
        ids=data.ids,
        alpha=alpha,
        test=test,  # type: ignore[arg-type]  # checked by the drift test, with the fix
        top=top,
        model_uri=model_uri,
        labels=data.labels,
        predictions=data.predictions,
    )
    started = mlflow.active_run() is None
    # With MLFLOW_RUN_ID set (a workflow step), start_run() resumes the step's run instead of making one.
    run = mlflow.start_run() if started else mlflow.active_run()
    assert run is not None
    try:
        mlflow.log_params(
            {"check.model_uri": model_uri, "check.batch": os.fspath(batch), "check.alpha": alpha, "check.test": test}
        )
        log_report(report)
    finally:
        if started:
            mlflow.end_run()
    print(report.summary())
    if fail_on_drift and report.drift:
        raise DriftDetectedError(
            f"the batch {batch!r} drifted (p = {report.p_value:.4g} <= alpha {alpha:g}; "
            f"{report.share_over_threshold:.1%} of samples above the threshold); see the run {run.info.run_id}"
        )
    if fail_on_checks and report.failed_checks:
        lines = "; ".join(c.message for c in report.checks if not c.passed)
        raise IntegrityCheckFailedError(
            f"the batch {batch!r} failed {len(report.failed_checks)} integrity check(s): {lines}; see the run "
            f"{run.info.run_id}, fix the data upstream, or drop fail_on_checks to log and go on"
        )
    return {
        "verdict": report.verdict,
        "p_value": report.p_value,
        "share_over_threshold": report.share_over_threshold,
        "top_ids": report.top_ids,
        "failed_checks": report.failed_checks,
        "run_id": run.info.run_id,
    }
