"""Reading a step's small values back from MLflow: the ``scanflow/values.json`` artifact of its run (a cached step's
run has none of its own: the run it reuses, named by its ``scanflow.cached_from`` tag, has them).

The engine reads here when the run folder that kept a step's values is gone (a resume elsewhere, a cache hit on a
cleaned folder); :mod:`.past` reads here for ``sf.latest_run(app)[step].outputs``. MLflow is imported on first use.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from .journal import settle
from .runtags import CACHED_FROM
from .store import StoreConfig

ARTIFACT = "scanflow/values.json"
MAX_HOPS = 20  # a cached run of a cached run...: a chain this long is a loop


def client(config: StoreConfig) -> Any:
    """An MLflow client of ``config``'s store, with what the store's journal holds written first."""
    from mlflow.tracking import MlflowClient

    from .quiet import quiet_defaults

    quiet_defaults()  # no download progress bars on a reader's stderr
    settle(config)
    return MlflowClient(config.uri)


def source_run(mlflow: Any, run_id: str) -> Any:
    """The run that holds the values of run ``run_id``: itself, or the run a cached step reuses (followed)."""
    run = mlflow.get_run(run_id)
    for _ in range(MAX_HOPS):
        source = run.data.tags.get(CACHED_FROM)
        if run.data.tags.get("scanflow.state") != "cached" or not source:
            return run
        run = mlflow.get_run(source)
    return run


def read_values(mlflow: Any, run_id: str) -> dict[str, Any] | None:
    """``{"outputs": ..., "read": ...}`` of the step run ``run_id`` (following a cached run to its source), ``{}``
    of a step that gave no values, None if the run is not in the store."""
    try:
        run = source_run(mlflow, run_id)
    except Exception:  # an unknown run id: MLflow raises its own exception types
        return None
    names = {f.path for f in mlflow.list_artifacts(run.info.run_id, "scanflow")}
    if ARTIFACT not in names:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.download_artifacts(run.info.run_id, ARTIFACT, tmp)
        with open(path) as fh:
            data: dict[str, Any] = json.load(fh)
    return data
