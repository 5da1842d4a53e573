"""Shared pieces of the deploy tests: the Docker engine (required in CI), the offline base image, and the
example application with an online service added."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import EXAMPLES

BASE_IMAGE = os.environ.get("SCANFLOW_BASE_IMAGE", "scanflow/debian-python:bookworm")


def copy_tabular(target: Path) -> Path:
    shutil.copytree(EXAMPLES / "tabular", target, ignore=shutil.ignore_patterns("work", ".scanflow", "mlruns"))
    return target


def with_service(app: Any, model_uri: str = "models:/tabular-linear/1", port: int = 8080) -> Any:
    from scanflow_jupyter.workflow import Service, Workflow

    app.workflows.append(
        Workflow(name="online", kind="online", nodes=[Service(name="predictor", model_uri=model_uri, port=port)])
    )
    return app


def ready_engine() -> Any:
    """A client of the local Docker engine, with the offline base image and the shared runtime image built.
    Without an engine: a skip (which tests/conftest.py turns into a failure with CI=true)."""
    from scanflow_jupyter.deploy.docker import DockerApp, connect
    from scanflow_jupyter.deploy.docker.base_image import build_base_image, has_image
    from scanflow_jupyter.errors import BackendUnavailableError
    from scanflow_jupyter.workflow import load

    try:
        client = connect()
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))
    # `make test` builds the base image first; a bare pytest run builds it here. Then the shared runtime (MLflow
    # pip-installed, a minute or two): once, under a lock, not by each pytest-xdist worker at the same time.
    with open(Path(tempfile.gettempdir()) / "scanflow-docker-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not has_image(BASE_IMAGE):
            build_base_image(BASE_IMAGE)
        DockerApp(load(EXAMPLES / "tabular"), base_image=BASE_IMAGE, client=client).build(workflows=[], tracker=False)
    return client


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """The local Docker engine, ready (see :func:`ready_engine`)."""
    client = ready_engine()
    yield client
    client.close()
