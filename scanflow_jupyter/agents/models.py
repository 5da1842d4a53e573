"""The model registry as agents use it: versions and aliases of a registered model, a version's files on this
machine, and its accuracy on evaluation files.

Everything goes through an :class:`~mlflow.MlflowClient` of the agent's own store; MLflow's current store (which a
notebook may point elsewhere) is never changed, so agents in threads of a kernel do not disturb each other.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelVersionNotFoundError, SensorError
from ..tracking.store import redact

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from .core import Context

__all__ = ["accuracy", "aliases", "is_not_found", "local_model", "require_version", "versions"]

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))$")


def is_not_found(exc: BaseException) -> bool:
    """Whether an MLflow error says the thing asked for does not exist (a model, a version, a run)."""
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
        if is_not_found(exc):
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
        if not is_not_found(exc):
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


_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_quiet_lock = threading.Lock()
_quiet = {"downloads": 0, "ours": False}


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """No download progress bar while agents download: in a kernel, what a background thread writes lands in
    whatever cell runs at the time. MLflow reads the setting from the environment, which threads share, so the
    downloads under way are counted and the last one puts it back; a value the user set is left alone."""
    with _quiet_lock:
        if _quiet["downloads"] == 0:
            _quiet["ours"] = _PROGRESS_BAR not in os.environ
            if _quiet["ours"]:
                os.environ[_PROGRESS_BAR] = "false"
        _quiet["downloads"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["downloads"] -= 1
            if _quiet["downloads"] == 0 and _quiet["ours"]:
                os.environ.pop(_PROGRESS_BAR, None)


def _fetch(source: str, target: Path, tracking_uri: str) -> None:
    """Download the artifact folder ``source`` to ``target``, whole or not at all. Each download goes to a
    temporary folder of its own beside ``target`` (two agents, or two threads, fetching the same model never write
    into each other's files), then is renamed into place; when another download got there first, that one is kept."""
    import shutil
    import tempfile

    import mlflow

    target.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        with _no_progress_bars():
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=str(part), tracking_uri=tracking_uri
            )
        try:
            Path(path).rename(target)
        except OSError:
            if not target.is_dir():
                raise
            # Another download renamed its complete copy into place first (a rename is all or nothing): keep it.
    finally:
        shutil.rmtree(part, ignore_errors=True)


def accuracy(model: Any, files: list[Path]) -> dict[str, float]:
    """The share of correct predictions of ``model`` (anything with ``predict``) on each ``.npz`` file holding
    ``x`` and ``y``. A model that gives as many predictions as samples, or raises, is an error naming the file."""
    out = {}
    for file in files:
        with np.load(file, allow_pickle=False) as data:
            x, y = data["x"], data["y"]
        predicted = np.asarray(model.predict(x.reshape(len(x), -1))).ravel()
        if len(predicted) != len(y):
            raise ValueError(f"it gave {len(predicted)} predictions for the {len(y)} samples of {file.name}")
        out[file.name] = float(np.mean(predicted.astype(str) == y.astype(str)))
    return out
