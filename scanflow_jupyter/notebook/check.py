"""``%scanflow check DETECTOR BATCH``: check a batch for drift and draw the report.

``DETECTOR`` is a variable holding a fitted :class:`~scanflow_jupyter.checking.AutoencoderDetector` or
:class:`~scanflow_jupyter.checking.SequenceDetector` (its report draws a time plot), or a model URI
(``models:/name/version``, ``runs:/...``) or model folder, resolved in the current application's store.
``BATCH`` is a variable (an array, a pandas DataFrame whose index gives the ids, or a
:class:`~scanflow_jupyter.checking.Batch`), or a ``.npy``/``.npz``/``.csv`` file (relative to the working
directory, else to the application folder).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ..checking import DETECTOR_TYPES, AutoencoderDetector, Batch, SequenceDetector, load_batch
from ..errors import InvalidDataError
from ..workflow import Application
from .widgets import DriftReportView

__all__ = ["check_command"]


def check_command(args: argparse.Namespace, namespace: Mapping[str, Any], app: Application | None) -> DriftReportView:
    """What ``%scanflow check`` does; ``namespace`` is the user's, ``app`` the current application (or None)."""
    tracking_uri = _store_uri(app)
    detector, model_uri = _detector(args.detector, namespace, tracking_uri)
    batch = _batch(args.batch, namespace, app, args.id_column)
    report = detector.check(
        batch.x,
        ids=batch.ids,
        alpha=args.alpha,
        test=args.test,
        top=args.top,
        model_uri=model_uri,
        labels=batch.labels,
        predictions=batch.predictions,
    )
    if args.log:
        _log(report, args, app, model_uri)
    samples = None if isinstance(detector, SequenceDetector) else batch.x  # a sequence report has its time plot
    return DriftReportView(report, samples=samples, image_shape=args.image_shape)


def _store_uri(app: Application | None) -> str | None:
    if app is None:
        return None
    from ..tracking.store import resolve

    return resolve(app).uri


def _detector(
    name: str, namespace: Mapping[str, Any], tracking_uri: str | None
) -> tuple[AutoencoderDetector | SequenceDetector, str | None]:
    value = namespace.get(name) if name.isidentifier() else None
    if isinstance(value, DETECTOR_TYPES):
        return value, None
    if value is not None and not isinstance(value, str):
        raise UsageError(
            f"%scanflow check: the variable {name!r} is a {type(value).__name__}, not an AutoencoderDetector or "
            "SequenceDetector; "
            "pass a fitted detector, or a model URI such as models:/digits-checker/1"
        )
    uri = value if isinstance(value, str) else name
    if name.isidentifier() and value is None and ":" not in uri and not Path(uri).exists():
        raise UsageError(
            f"%scanflow check: {name!r} is neither a variable nor a model URI or folder; fit a detector "
            "(detector = AutoencoderDetector().fit(reference)) or give a URI such as models:/digits-checker/1"
        )
    from ..checking import load_detector

    return load_detector(uri, tracking_uri=tracking_uri), uri


def _batch(name: str, namespace: Mapping[str, Any], app: Application | None, id_column: str) -> Batch:
    if name.isidentifier() and name in namespace:
        value = namespace[name]
        if isinstance(value, Batch):
            return value
        if isinstance(value, str | Path):
            return _batch_file(str(value), app, id_column)
        if hasattr(value, "to_numpy") and hasattr(value, "columns"):  # a pandas DataFrame
            from ..checking.data import as_ids, as_samples

            x = as_samples(value.to_numpy(), what=f"the batch {name!r}")
            return Batch(x, as_ids([str(i) for i in value.index], len(x)), [str(c) for c in value.columns])
        from ..checking.data import as_ids, as_samples

        x = as_samples(value, what=f"the batch {name!r}")
        return Batch(x, as_ids(None, len(x)))
    return _batch_file(name, app, id_column)


def _batch_file(path: str, app: Application | None, id_column: str) -> Batch:
    file = Path(path)
    if not file.is_file() and app is not None and app.folder is not None and (app.folder / path).is_file():
        file = app.folder / path
    if not file.is_file() and file.suffix.lower() not in (".npy", ".npz", ".csv"):
        raise InvalidDataError(
            f"{path!r} is neither a variable nor a batch file: give an array variable or a .npy, .npz or .csv file"
        )
    return load_batch(file, id_column=id_column)


def _log(report: Any, args: argparse.Namespace, app: Application | None, model_uri: str | None) -> None:
    if app is None:
        raise UsageError(
            "%scanflow check --log records the check in the current application's store; load one first "
            "(%scanflow load PATH) or drop --log"
        )
    from ..checking.step import record_report
    from ..tracking.store import check_reachable, prepare_sqlite, resolve

    config = resolve(app)
    check_reachable(config)
    prepare_sqlite(config)
    from mlflow import MlflowClient

    client = MlflowClient(config.uri)
    experiment = client.get_experiment_by_name(config.experiment)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(config.experiment, artifact_location=config.artifact_root)
    )
    params = {
        "check.model_uri": model_uri or f"variable {args.detector}",
        "check.batch": args.batch,
        "check.alpha": args.alpha,
        "check.test": args.test,
    }
    run_id = record_report(report, tracking_uri=config.uri, experiment_id=str(experiment_id), params=params)
    print(f"recorded in MLflow: run {run_id} of experiment {config.experiment!r}")
