"""The model registry as agents use it: versions and aliases of a registered model, a version's files on this
machine, and its accuracy on evaluation files.

Everything goes through an :class:`~mlflow.MlflowClient` of the agent's own store; MLflow's current store (which a
notebook may point elsewhere) is never changed, so agents in threads of a kernel do not disturb each other.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelVersionNotFoundError, SensorError
from ..tracking.store import redact

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from .core import Context

__all__ = ["accuracy", "aliases", "local_model", "require_version", "versions"]

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))$")


def _missing(exc: Exception) -> bool:
    return "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")) or "not found" in str(exc).lower()


def versions(client: MlflowClient, model: str) -> list[dict[str, Any]]:
    """The versions of ``model``, oldest first (empty when it is not registered yet)."""
    found = client.search_model_versions(f"name = '{model}'")
    out = [
        {
            "version": str(v.version),
            "run_id": v.run_id or "",
            "created": (v.creation_timestamp or 0) / 1000.0,
            "status": str(v.status),
            "tags": dict(v.tags or {}),
        }
        for v in found
    ]
    return sorted(out, key=lambda v: int(v["version"]) if v["version"].isdigit() else 0)


def aliases(client: MlflowClient, model: str) -> dict[str, str]:
    """``{alias: version}`` of ``model`` (empty when it is not registered)."""
    try:
        registered = client.get_registered_model(model)
    except Exception as exc:
        if _missing(exc):
            return {}
        raise
    return {str(k): str(v) for k, v in (registered.aliases or {}).items()}


def require_version(client: MlflowClient, model: str, version: str, *, where: str) -> None:
    """Raise :class:`~scanflow_jupyter.errors.ModelVersionNotFoundError` naming ``model``, ``version`` and the
    versions there are, unless the registry holds that version."""
    try:
        client.get_model_version(model, str(version))
        return
    except Exception as exc:
        if not _missing(exc):
            raise
    known = [v["version"] for v in versions(client, model)]
    listed = f"its versions are {', '.join(known)}" if known else f"there is no registered model {model!r} at all"
    raise ModelVersionNotFoundError(
        f"{where}: model {model!r} has no version {version!r} in the registry of {redact(client.tracking_uri)} "
        f"({listed}). "
        f"Register it first (mlflow.<flavor>.log_model(..., registered_model_name={model!r})) or name an existing "
        "version"
    )


def local_model(ctx: Context, uri: str) -> Path:
    """The files of the MLflow model ``uri`` (``models:/name/version``, ``models:/name@alias``, ``runs:/...``, a
    folder) on this machine, downloaded from the agent's store into its model cache once per version."""
    folder = Path(uri)
    if folder.is_dir():
        return folder
    client = ctx.client()
    match = _MODELS_URI.match(uri)
    try:
        if match is not None:
            name = match["name"]
            if match["alias"]:
                version = str(client.get_model_version_by_alias(name, match["alias"]).version)
            else:
                version = match["version"]
                require_version(client, name, version, where=f"agent {ctx.agent!r}")
            target = ctx.models_dir() / f"{name}-v{version}"
            if not target.is_dir():
                _fetch(client.get_model_version_download_uri(name, version), target, ctx.tracking_uri)
            return target
        target = ctx.models_dir() / re.sub(r"[^A-Za-z0-9_.-]+", "-", uri)[-80:]
        if not target.is_dir():
            _fetch(uri, target, ctx.tracking_uri)
        return target
    except ModelVersionNotFoundError:
        raise
    except Exception as exc:
        raise SensorError(
            redact(
                f"agent {ctx.agent!r} cannot fetch the model {uri!r} from {ctx.tracking_uri} ({type(exc).__name__}: "
                f"{exc}); check the URI and that it was logged to this store"
            )
        ) from exc


def _fetch(source: str, target: Path, tracking_uri: str) -> None:
    """Download the artifact folder ``source`` to ``target`` (whole, or not at all)."""
    import shutil

    import mlflow

    part = target.with_name(target.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    # No progress bar: in a kernel, what a background thread writes lands in whatever cell runs at the time.
    quiet = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ
    if quiet:
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        path = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(part), tracking_uri=tracking_uri)
    finally:
        if quiet:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
    Path(path).rename(target)
    shutil.rmtree(part, ignore_errors=True)


def accuracy(model: Any, files: list[Path]) -> dict[str, float]:
    """The share of correct predictions of ``model`` (anything with ``predict``) on each ``.npz`` file holding
    ``x`` and ``y``."""
    out = {}
    for file in files:
        with np.load(file, allow_pickle=False) as data:
            x, y = data["x"], data["y"]
        predicted = np.asarray(model.predict(x.reshape(len(x), -1))).ravel()
        out[file.name] = float(np.mean(predicted.astype(str) == y.astype(str)))
    return out
