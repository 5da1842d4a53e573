"""Save, log, register and load detectors as MLflow models.

A detector's MLflow model is a ``python_function`` model (:class:`~scanflow_jupyter.checking.pyfunc.DetectorModel`)
with three artifacts:

- ``autoencoder.keras``: the network (Keras 3 format);
- ``detector.json``: settings, scaling, score standardisation, thresholds and training facts;
- ``reference.npz``: the calibration scores of every kind, the training codes (the latent score's neighbours),
  the input-space subspace and its points (the input score's neighbours), and the integrity checks' arrays.

``detector.json`` also holds the integrity checks' fitted state (by check name: a plugin's check is found again
through its entry point when the detector loads). A sequence detector
(:class:`~scanflow_jupyter.checking.SequenceDetector`) saves the same three files with ``"kind": "sequence"``.

The MLmodel file's ``metadata.scanflow_detector`` repeats the thresholds, so a model that lacks them is refused
before anything is unpickled or TensorFlow is imported. The logging run gets the settings, threshold and training
facts as params (prefixed with the model's name) and tags; a registered version gets them as tags.
MLflow is imported inside the functions, never with the module.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MissingThresholdError, TrackingError
from .detector import AutoencoderDetector

if TYPE_CHECKING:
    from .sequence import SequenceDetector

    AnyDetector = AutoencoderDetector | SequenceDetector

__all__ = ["DetectorModelInfo", "detector_from_files", "load_detector", "log_detector", "save_detector_files"]

NETWORK_FILE = "autoencoder.keras"
STATE_FILE = "detector.json"
ARRAYS_FILE = "reference.npz"
STATE_VERSION = 2
_SETTINGS = (
    "architecture",
    "score_kind",
    "code_size",
    "hidden",
    "filters",
    "neighbors",
    "input_neighbors",
    "input_variance",
    "reconstruction_weight",
    "reconstruction_margin",
    "checks",
    "checks_alpha",
    "false_alarm_rate",
    "scaling",
    "epochs",
    "patience",
    "batch_size",
    "learning_rate",
    "validation_fraction",
    "calibration_fraction",
    "seed",
)


@dataclass(frozen=True)
class DetectorModelInfo:
    """Where a logged detector is: its model URI, run, and registered name and version (when registered)."""

    model_uri: str
    run_id: str
    registered_model_name: str | None = None
    version: str | None = None

    @property
    def registered_uri(self) -> str | None:
        """``models:/NAME/VERSION`` when registered."""
        if self.registered_model_name is None or self.version is None:
            return None
        return f"models:/{self.registered_model_name}/{self.version}"


def save_detector_files(detector: AnyDetector, folder: str | Path) -> dict[str, str]:
    """Write a fitted detector's three files into ``folder``; returns ``{artifact name: path}``."""
    detector.require_fitted()
    if getattr(detector, "kind", "") == "sequence":
        return detector.save_files(folder)  # type: ignore[union-attr]
    assert isinstance(detector, AutoencoderDetector)
    assert detector.scaler is not None and detector.train_codes is not None
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Keras' own saving trips NumPy 2's __array__(copy=) deprecation; nothing a user can act on.
        warnings.filterwarnings(
            "ignore", message=".*__array__ implementation doesn't accept a copy", category=DeprecationWarning
        )
        detector.model.save(out / NETWORK_FILE)
    state = {
        "version": STATE_VERSION,
        "settings": {name: getattr(detector, name) for name in _SETTINGS},
        "sample_shape": list(detector.sample_shape or ()),
        "feature_names": detector.feature_names,
        "scaler": detector.scaler.to_dict(),
        "standardization": {k: list(v) for k, v in detector.standardization.items()},
        "thresholds": detector.thresholds,
        "facts": detector.facts,
    }
    arrays: dict[str, Any] = {f"calibration_{k}": v for k, v in detector.calibration_scores.items()}
    if detector.input_space is not None:
        arrays.update(detector.input_space.to_arrays())
    if detector.marginal is not None:
        arrays.update(detector.marginal.to_arrays())
    if detector.integrity is not None:
        state["integrity"], integrity_arrays = detector.integrity.to_state()
        arrays.update({f"integrity/{k}": v for k, v in integrity_arrays.items()})
    (out / STATE_FILE).write_text(json.dumps(state, indent=1))
    np.savez(out / ARRAYS_FILE, train_codes=detector.train_codes, **arrays)
    return {"network": str(out / NETWORK_FILE), "state": str(out / STATE_FILE), "arrays": str(out / ARRAYS_FILE)}


def detector_from_files(folder: str | Path, *, source: str | None = None) -> AnyDetector:
    """Rebuild a detector from the files :func:`save_detector_files` wrote."""
    from .checks import IntegritySuite
    from .data import Scaler
    from .inputspace import InputSpace
    from .marginal import MarginalTails
    from .networks import keras

    where = source or str(folder)
    path = Path(folder)
    state = json.loads((path / STATE_FILE).read_text())
    if not state.get("thresholds"):
        raise MissingThresholdError(_no_threshold(where, "its detector.json holds no thresholds"))
    if state.get("kind") == "sequence":
        from .sequence import SequenceDetector

        return SequenceDetector.from_files(path, state)
    settings = dict(state["settings"])
    score = settings.pop("score_kind")
    detector = AutoencoderDetector(score=score, progress=False, **settings)
    detector.model = keras().saving.load_model(path / NETWORK_FILE, compile=False)
    detector.scaler = Scaler.from_dict(state["scaler"])
    detector.sample_shape = tuple(state["sample_shape"])
    detector.feature_names = state.get("feature_names")
    detector.standardization = {k: (float(v[0]), float(v[1])) for k, v in state["standardization"].items()}
    detector.thresholds = {k: float(v) for k, v in state["thresholds"].items()}
    detector.facts = dict(state.get("facts", {}))
    with np.load(path / ARRAYS_FILE) as arrays:
        detector.train_codes = arrays["train_codes"]
        detector.calibration_scores = {
            k.removeprefix("calibration_"): arrays[k].astype(np.float64)
            for k in arrays.files
            if k.startswith("calibration_")
        }
        detector.input_space = InputSpace.from_arrays(arrays)
        detector.marginal = MarginalTails.from_arrays(arrays)
        if "integrity" in state:
            integrity = {k.removeprefix("integrity/"): arrays[k] for k in arrays.files if k.startswith("integrity/")}
            detector.integrity = IntegritySuite.from_state(state["integrity"], integrity)
    return detector


def _summary(detector: AnyDetector) -> dict[str, Any]:
    """The facts logged as params and tags: settings, threshold, training facts."""
    facts = {k: v for k, v in detector.facts.items() if k not in ("sample_shape",)}
    return {
        "threshold": detector.threshold,
        "score": detector.score_kind,
        "false_alarm_rate": detector.false_alarm_rate,
        "sample_shape": "x".join(map(str, detector.sample_shape or ())),
        "code_size": detector.code_size,
        "neighbors": detector.neighbors,
        "seed": detector.seed,
        **facts,
    }


def _signature(detector: AnyDetector) -> Any:
    """Input: float32 samples of the reference's shape; output: a score, a p-value and a flag per sample."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    shape = getattr(detector, "input_shape", None) or (-1, *(detector.sample_shape or ()))
    inputs = Schema([TensorSpec(np.dtype(np.float32), tuple(shape))])
    outputs = Schema([ColSpec("double", "score"), ColSpec("double", "p_value"), ColSpec("boolean", "anomalous")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _requirements() -> list[str]:
    wanted = ["tensorflow-cpu", "tensorflow", "keras", "scikit-learn", "numpy", "pandas", "mlflow", "scanflow-jupyter"]
    out = []
    for name in wanted:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    if any(r.startswith("tensorflow-cpu==") for r in out):
        out = [r for r in out if not r.startswith("tensorflow==")]
    return out


def log_detector(
    detector: AnyDetector,
    name: str = "detector",
    *,
    registered_model_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> DetectorModelInfo:
    """Log a fitted detector as an MLflow model in the active run (or a new run), and register it.

    Parameters
    ----------
    name
        The model's name in the run; its params are logged as ``NAME.threshold``, ``NAME.n_train``, ...
    registered_model_name
        When given, a new version of this registered model is created (the registry numbers it).
    tags
        Extra tags for the run (and the registered version).

    Example
    -------
    >>> info = detector.log_model(registered_model_name="digits-checker")   # doctest: +SKIP
    >>> info.registered_uri                                                  # doctest: +SKIP
    'models:/digits-checker/1'
    """
    detector.require_fitted()
    import mlflow

    summary = _summary(detector)
    run_tags = {
        "scanflow.detector": name,
        "scanflow.detector.threshold": repr(detector.threshold),
        "scanflow.detector.score": detector.score_kind,
        **(tags or {}),
    }
    started = mlflow.active_run() is None
    run = mlflow.start_run() if started else mlflow.active_run()
    assert run is not None
    try:
        mlflow.log_params({f"{name}.{k}": v for k, v in summary.items()})
        mlflow.set_tags(run_tags)
        with tempfile.TemporaryDirectory(prefix="scanflow-detector-") as tmp, warnings.catch_warnings():
            # The signature says what the input is; an example would only repeat it (and copy a sample).
            warnings.filterwarnings("ignore", message=".*input example was not provided", category=UserWarning)
            artifacts = save_detector_files(detector, tmp)
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
                artifacts=artifacts,
                pip_requirements=_requirements(),
                signature=_signature(detector),
                metadata={
                    "scanflow_detector": {"version": STATE_VERSION, **summary, "thresholds": detector.thresholds}
                },
                registered_model_name=registered_model_name,
            )
        version = None
        if registered_model_name is not None:
            version = str(info.registered_model_version)
            client = mlflow.MlflowClient()
            for key, value in {**{f"scanflow.{k}": v for k, v in summary.items()}, **(tags or {})}.items():
                client.set_model_version_tag(registered_model_name, version, key, str(value))
    finally:
        if started:
            mlflow.end_run()
    return DetectorModelInfo(
        model_uri=info.model_uri,
        run_id=run.info.run_id,
        registered_model_name=registered_model_name,
        version=version,
    )


def load_detector(model_uri: str, *, tracking_uri: str | None = None) -> AnyDetector:
    """Load a detector from an MLflow model URI (``models:/name/version``, ``runs:/id/name``, ``models:/m-...``)
    or a local model folder.

    ``tracking_uri`` is the store (tracking and registry) to resolve the URI in; by default MLflow's current one.

    Raises :class:`~scanflow_jupyter.errors.MissingThresholdError` for a model that is not a calibrated scanflow
    detector (a plain Keras model, say), and :class:`~scanflow_jupyter.errors.TrackingError` when the URI
    cannot be resolved.
    """
    import mlflow

    local = Path(model_uri)
    if local.is_dir():
        return _from_model_folder(local, model_uri)
    # Downloaded into a folder of its own (two loads at once never share one), removed once the detector is in
    # memory: nothing is left in the temporary folder per load.
    with tempfile.TemporaryDirectory(prefix="scanflow-detector-") as tmp:
        try:
            with _current_store(tracking_uri):
                local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        except Exception as exc:
            raise TrackingError(
                f"cannot load the model {model_uri!r} ({type(exc).__name__}: {exc}); check the URI and that "
                f"it was logged to the store searched, {tracking_uri or mlflow.get_tracking_uri()} (set "
                "MLFLOW_TRACKING_URI, or the application's tracker.uri, to search another)"
            ) from exc
        return _from_model_folder(local, model_uri)


def _from_model_folder(local: Path, model_uri: str) -> AnyDetector:
    """The detector in the MLflow model folder ``local`` (read whole into memory)."""
    import yaml

    mlmodel_file = local / "MLmodel"
    if not mlmodel_file.is_file():
        raise TrackingError(f"{model_uri!r} is not an MLflow model: it has no MLmodel file")
    mlmodel = yaml.safe_load(mlmodel_file.read_text()) or {}
    meta = (mlmodel.get("metadata") or {}).get("scanflow_detector") or {}
    if "threshold" not in meta:
        flavors = ", ".join(sorted(mlmodel.get("flavors") or {})) or "none"
        raise MissingThresholdError(
            _no_threshold(model_uri, f"it is not a calibrated scanflow detector (flavours: {flavors})")
        )
    pyfunc = (mlmodel.get("flavors") or {}).get("python_function") or {}
    state_path = ((pyfunc.get("artifacts") or {}).get("state") or {}).get("path")
    if not state_path:
        raise MissingThresholdError(_no_threshold(model_uri, "its detector files are missing"))
    return detector_from_files((local / state_path).parent, source=model_uri)


@contextmanager
def _current_store(uri: str | None) -> Iterator[None]:
    """Make ``uri`` MLflow's current store for a moment. Passing ``tracking_uri``/``registry_uri`` to
    ``download_artifacts`` is not enough: MLflow 3.17 resolves ``models:/name/version`` with the default
    registry client whatever it is given."""
    if uri is None:
        yield
        return
    import mlflow

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None: back to the default


def _no_threshold(where: str, why: str) -> str:
    return (
        f"the model {where!r} has no threshold: {why}. Fit an AutoencoderDetector on reference data (it holds out "
        "calibration samples for the threshold) and log that with detector.log_model(...)"
    )
