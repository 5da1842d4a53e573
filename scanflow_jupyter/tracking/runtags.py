"""The tags that place a run in a workflow run's tree: one definition for every writer (the MLflow writer
process, the journal, the drainer). Nothing here imports MLflow, or anything else."""

from __future__ import annotations

from collections.abc import Mapping

CACHED_FROM = "scanflow.cached_from"  # on a cached step's run: the MLflow run whose result it stands for


def group_tags(owner: str, group: str, tags: Mapping[str, str]) -> dict[str, str]:
    """The run of nested workflow ``group`` under run ``owner``, with the run's own ``tags``."""
    return {"mlflow.parentRunId": owner, "scanflow.node": group, "scanflow.kind": "workflow", **tags}


def step_tags(owner: str, address: str, tags: Mapping[str, str]) -> dict[str, str]:
    """The run of step ``address`` under run ``owner``, with the run's own ``tags``."""
    return {"mlflow.parentRunId": owner, "scanflow.node": address, "scanflow.kind": "step", **tags}


def cached_tags(
    owner: str, address: str, tags: Mapping[str, str], source: str | None, source_run: str | None
) -> dict[str, str]:
    """The run of step ``address`` reused from the cache: whose result it stands for (``source``, an MLflow run
    id, and ``source_run``, a scanflow run id; empty when unknown)."""
    return {
        "mlflow.parentRunId": owner,
        "scanflow.node": address,
        "scanflow.kind": "step",
        "scanflow.state": "cached",
        CACHED_FROM: source or "",
        "scanflow.cached_from_run_id": source_run or "",
        **tags,
    }
