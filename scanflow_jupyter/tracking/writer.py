"""The tracking writer: a child process that owns the MLflow client and performs writes sent to it.

MLflow's store does most of its work in Python. Done in a thread of the engine (or of a notebook kernel)
it competes for the GIL with everything else; in its own process it runs on another core. The parent
(:mod:`.recorder`) sends one JSON object per line on stdin, ``{"id", "op", "args", "urgent"}``; every
op gets a reply line on stdout, ``{"id", "result"}`` or ``{"id", "error"}``. Urgent ops (creating a run a
step is waiting for) go before queued ones.

If this process dies, the parent starts another and sends again every op that had no reply (``"replay": true``):
it may or may not have been done. Every op is safe to do twice: closing writes carry their own timestamps (MLflow
drops a metric point logged twice), and an op that creates a run first looks for the run a replayed op may have
created already (by the tags that say whose it is). This process keeps nothing it cannot read back from MLflow.

Run as ``python -m scanflow_jupyter.tracking.writer`` with the store's URI in the variable
``SCANFLOW_WRITER_TRACKING_URI`` (never an argument: a command line is public, and a URI may hold a password).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import sys
import threading
import time
from typing import Any

from .runtags import cached_tags, group_tags, step_tags

MAX_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch
URI_VARIABLE = "SCANFLOW_WRITER_TRACKING_URI"  # the store's URI, from the recorder

# MLflow run statuses for node states.
STATUS = {
    "succeeded": "FINISHED",
    "cached": "FINISHED",
    "failed": "FAILED",
    "cancelled": "KILLED",
    "skipped": "KILLED",
}


class Writer:
    """The MLflow calls, one method per op."""

    def __init__(self, uri: str) -> None:
        from mlflow.tracking import MlflowClient

        from .quiet import quiet_loggers

        # MLflow configures its loggers on import; its table-creation chatter is noise.
        quiet_loggers()
        self.client = MlflowClient(uri)
        self.groups: dict[str, dict[str, str]] = {}  # parent run -> nested workflow address -> run
        self.artifact_uris: dict[str, str] = {}

    def experiment(self, name: str, artifact_root: str | None) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            return str(exp.experiment_id)
        return str(self.client.create_experiment(name, artifact_location=artifact_root))

    def _runs_of(self, experiment_id: str, scanflow_run_id: str) -> list[Any]:
        """Every MLflow run tagged with one scanflow run id (its parent, nested workflows and step runs)."""
        from mlflow.entities import ViewType

        found: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs(
                [experiment_id],
                f"tags.`scanflow.run_id` = '{scanflow_run_id}'",
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=1000,
                page_token=token,
            )
            found.extend(page)
            token = page.token
            if not token:
                return found

    def _existing(self, experiment_id: str, tags: dict[str, str], **match: str) -> Any | None:
        """A run a replayed op created already: this scanflow run's, with tags ``match`` (``None`` if none)."""
        scanflow_run_id = tags.get("scanflow.run_id")
        if not scanflow_run_id:
            return None
        for run in self._runs_of(experiment_id, scanflow_run_id):
            if all(run.data.tags.get(k) == v for k, v in match.items()):
                return run
        return None

    def inventory(self, experiment_id: str, scanflow_run_id: str) -> list[dict[str, Any]]:
        """What MLflow holds of one scanflow run: each run's id, kind, node, status, state tag and parent."""
        return [
            {
                "run_id": run.info.run_id,
                "kind": run.data.tags.get("scanflow.kind"),
                "node": run.data.tags.get("scanflow.node"),
                "status": run.info.status,
                "state": run.data.tags.get("scanflow.state"),
                "parent": run.data.tags.get("mlflow.parentRunId"),
            }
            for run in self._runs_of(experiment_id, scanflow_run_id)
        ]

    def start_workflow(
        self, experiment_id: str, run_name: str, tags: dict[str, str], graph: dict[str, Any], replay: bool = False
    ) -> str:
        run = self._existing(experiment_id, tags, **{"scanflow.kind": "run"}) if replay else None
        if run is None:
            run = self.client.create_run(experiment_id, run_name=run_name, tags=tags)
        self.groups[run.info.run_id] = {}
        self.client.log_dict(run.info.run_id, graph, "scanflow/graph.json")
        return str(run.info.run_id)

    def reopen(self, run_id: str, groups: dict[str, str]) -> None:
        self.groups[run_id] = dict(groups)
        for rid in [run_id, *groups.values()]:
            self.client.update_run(rid, status="RUNNING")

    def _groups_of(self, parent: str) -> dict[str, str]:
        """The nested-workflow runs under ``parent``; read back from MLflow if this process has not seen it (a
        writer started again after the one before died)."""
        if parent not in self.groups:
            run = self.client.get_run(parent)
            scanflow_run_id = run.data.tags.get("scanflow.run_id")
            found: dict[str, str] = {}
            for child in self._runs_of(run.info.experiment_id, scanflow_run_id) if scanflow_run_id else []:
                if child.data.tags.get("scanflow.kind") == "workflow" and child.data.tags.get("scanflow.node"):
                    found[child.data.tags["scanflow.node"]] = child.info.run_id
            self.groups[parent] = found
        return self.groups[parent]

    def _ensure_groups(self, experiment_id: str, parent: str, address: str, tags: dict[str, str]) -> str:
        groups = self._groups_of(parent)
        owner = parent
        parts = address.split("/")
        for i in range(1, len(parts)):
            group = "/".join(parts[:i])
            if group not in groups:
                run = self.client.create_run(
                    experiment_id,
                    run_name=group,
                    tags=group_tags(owner, group, tags),
                )
                groups[group] = str(run.info.run_id)
            owner = groups[group]
        return owner

    def start_node(
        self, experiment_id: str, parent: str, address: str, tags: dict[str, str], replay: bool = False
    ) -> dict[str, Any]:
        owner = self._ensure_groups(experiment_id, parent, address, tags)
        run = None
        if replay:  # a step has one open run at a time: the one the writer before this one created, if it did
            run = self._existing(
                experiment_id, tags, **{"scanflow.kind": "step", "scanflow.node": address, "mlflow.parentRunId": owner}
            )
            if run is not None and run.info.status != "RUNNING":
                run = None
        if run is None:
            run = self.client.create_run(
                experiment_id,
                run_name=address,
                tags=step_tags(owner, address, tags),
            )
        self.artifact_uris[run.info.run_id] = run.info.artifact_uri
        return {"run_id": run.info.run_id, "groups": self.groups[parent]}

    def record_cached(
        self,
        experiment_id: str,
        parent: str,
        address: str,
        tags: dict[str, str],
        source: str | None,
        params: dict[str, Any],
        source_run: str | None = None,
        replay: bool = False,
    ) -> dict[str, Any]:
        """A FINISHED step run for a step reused from the cache: tagged with the run whose result it reuses
        (``scanflow.cached_from``: its MLflow run id; ``scanflow.cached_from_run_id``: the scanflow run id), with
        that run's metrics copied (every point, with its own step and timestamp), so a table, a chart or
        ``mlflow.search_runs`` of this run shows the result it stands for."""
        from mlflow.entities import Param

        owner = self._ensure_groups(experiment_id, parent, address, tags)
        match = {"scanflow.kind": "step", "scanflow.node": address, "scanflow.state": "cached"}
        run = self._existing(experiment_id, tags, **match) if replay else None
        if run is None:
            run = self.client.create_run(
                experiment_id,
                run_name=address,
                tags=cached_tags(owner, address, tags, source, source_run),
            )
        run_id = run.info.run_id
        if params:
            self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
        self._copy_metrics(source, run_id)
        self.client.set_terminated(run_id, "FINISHED")
        return {"run_id": run_id, "groups": self.groups[parent]}

    def _copy_metrics(self, source: str | None, target: str) -> None:
        """Every metric point of run ``source`` into run ``target`` (logged twice, a point is kept once)."""
        if not source:
            return
        try:
            keys = list(self.client.get_run(source).data.metrics)
        except Exception:  # the source run was deleted: the cached run says where it came from, nothing more
            return
        points = [point for key in keys for point in self.client.get_metric_history(source, key)]
        for start in range(0, len(points), MAX_METRICS_PER_BATCH):
            self.client.log_batch(target, metrics=points[start : start + MAX_METRICS_PER_BATCH])

    def log_batch(
        self,
        run_id: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        timestamp: float | None = None,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        # The sender's timestamp, so the same op done twice (replayed after a writer died) logs the same point.
        now = int((timestamp if timestamp is not None else time.time()) * 1000)
        metric_list = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
        param_list = [Param(k, str(v)) for k, v in params.items()]
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        try:
            self.client.log_batch(run_id, metrics=metric_list, params=param_list, tags=tag_list)
        except Exception:
            # The script logged one of these params itself with another spelling of the value: keep
            # the script's, add the rest.
            logged = self.client.get_run(run_id).data.params
            param_list = [p for p in param_list if p.key not in logged]
            self.client.log_batch(run_id, metrics=metric_list, params=param_list, tags=tag_list)

    def upload(self, run_id: str, files: list[str], folder: str) -> None:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        uri = self.artifact_uris.pop(run_id, None) or self.client.get_run(run_id).info.artifact_uri
        # An mlflow-artifacts: URI (a tracking server serving artifacts) resolves against the tracking URI:
        # this client's, not the process's default (a local sqlite:///mlflow.db in MLflow 3).
        repo = get_artifact_repository(uri, tracking_uri=self.client.tracking_uri)
        for path in files:
            repo.log_artifact(path, folder)  # type: ignore[no-untyped-call]

    def terminate(self, run_id: str, state: str) -> None:
        self.client.set_terminated(run_id, STATUS.get(state, "FAILED"))

    def finish_group(self, parent: str, group: str, state: str) -> None:
        run_id = self._groups_of(parent).get(group)
        if run_id is not None:
            self.terminate(run_id, state)

    def mark_stale(self, run_ids: list[str], status: str = "KILLED") -> None:
        for run_id in run_ids:
            try:
                if self.client.get_run(run_id).info.status in ("RUNNING", "SCHEDULED"):
                    self.client.set_terminated(run_id, status)
            except Exception:  # a run deleted by hand: nothing to mark
                continue

    def supersede(self, run_ids: list[str]) -> None:
        """Runs of attempts that count for nothing (their steps run again) end KILLED, whatever they say."""
        for run_id in run_ids:
            with contextlib.suppress(Exception):  # a run deleted by hand: nothing to mark
                self.client.set_terminated(run_id, "KILLED")

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def flush(self) -> None:
        """Replies once every op sent before it is done."""


CREATES = {"start_workflow", "start_node", "record_cached"}  # ops that look for their run first when replayed


def main(argv: list[str]) -> int:
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies on the reply channel
    # Bookkeeping yields the CPU to the steps: on a busy machine the writer lags a little, the steps do not.
    os.nice(5)
    try:
        uri = os.environ.pop(URI_VARIABLE, "") or (argv[0] if argv else "")
        if not uri:
            raise ValueError(f"no tracking URI: set {URI_VARIABLE}")
        writer = Writer(uri)
    except Exception as exc:
        out.write(json.dumps({"id": 0, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return 1
    out.write(json.dumps({"id": 0, "result": "ready"}) + "\n")
    out.flush()
    inbox: queue.PriorityQueue[tuple[int, int, dict[str, Any]]] = queue.PriorityQueue()
    seq = itertools.count()

    def read() -> None:
        for line in sys.stdin:
            msg = json.loads(line)
            inbox.put((0 if msg.get("urgent") else 1, next(seq), msg))
        inbox.put((2, next(seq), {"op": "exit"}))

    threading.Thread(target=read, daemon=True).start()
    while True:
        _, _, msg = inbox.get()
        if msg["op"] == "exit":
            return 0
        args = msg.get("args", {})
        if msg.get("replay") and msg["op"] in CREATES:
            args = {**args, "replay": True}
        try:
            reply = {"id": msg["id"], "result": getattr(writer, msg["op"])(**args)}
        except Exception as exc:
            reply = {"id": msg["id"], "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply, default=str) + "\n")
        out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
