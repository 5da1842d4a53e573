"""The MLflow run hierarchy of a workflow run: a parent run, a run per nested workflow, a child run per step.

Writes go through one background thread so the scheduler rarely waits on the store: starting a step's run
is synchronous (the step needs ``MLFLOW_RUN_ID`` before it starts) and jumps ahead of the queue, while
closing a run (params, logs, metrics, status) happens while the next step already runs.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from ..errors import TrackingError
from .store import StoreConfig, prepare_sqlite

T = TypeVar("T")

# MLflow run statuses for node states.
STATUS = {
    "succeeded": "FINISHED",
    "cached": "FINISHED",
    "failed": "FAILED",
    "cancelled": "KILLED",
    "skipped": "KILLED",
}
_URGENT, _LATER = 0, 1


class RunRecorder:
    """Write one workflow run's MLflow runs.

    Parameters
    ----------
    config:
        The resolved store (see :func:`scanflow_jupyter.tracking.store.resolve`).
    """

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], Any], Future[Any]]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._groups: dict[str, str] = {}
        self._closed = False
        try:
            prepare_sqlite(config)
            from mlflow.tracking import MlflowClient

            # MLflow configures its loggers on import; its table-creation chatter is noise in a run's output.
            logging.getLogger("mlflow").setLevel(logging.WARNING)
            logging.getLogger("alembic").setLevel(logging.WARNING)

            self.client = MlflowClient(config.uri)
            self.experiment_id = self._experiment()
        except TrackingError:
            raise
        except Exception as exc:
            raise TrackingError(
                f"Cannot use the MLflow store {config.uri!r}: {exc}. Check MLFLOW_TRACKING_URI or the "
                "application's tracker.uri, and that the server is running."
            ) from None
        self._thread = threading.Thread(target=self._work, name="scanflow-tracking", daemon=True)
        self._thread.start()

    # -- the writer thread ------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            _, _, fn, future = self._queue.get()
            if fn is _STOP:
                future.set_result(None)
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def _submit(self, fn: Callable[[], T], priority: int = _LATER) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((priority, next(self._seq), fn, future))
        return future

    def _now(self, fn: Callable[[], T]) -> T:
        try:
            return self._submit(fn, _URGENT).result()
        except TrackingError:
            raise
        except Exception as exc:
            raise TrackingError(f"MLflow store {self.config.uri!r} refused a write: {exc}") from None

    # -- runs -------------------------------------------------------------------------------
    def _experiment(self) -> str:
        exp = self.client.get_experiment_by_name(self.config.experiment)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            return str(exp.experiment_id)
        return str(self.client.create_experiment(self.config.experiment, artifact_location=self.config.artifact_root))

    def start_workflow(self, run_name: str, tags: Mapping[str, str], graph: Mapping[str, Any]) -> str:
        """Create the parent run and attach the graph as ``scanflow/graph.json``; returns its id."""

        def create() -> str:
            run = self.client.create_run(self.experiment_id, run_name=run_name, tags=dict(tags))
            self.client.log_dict(run.info.run_id, dict(graph), "scanflow/graph.json")
            return str(run.info.run_id)

        return self._now(create)

    def reopen_workflow(self, run_id: str) -> None:
        """Mark an interrupted parent run as running again (for resume)."""
        self._now(lambda: self.client.update_run(run_id, status="RUNNING"))

    def start_node(self, parent: str, address: str, tags: Mapping[str, str], groups: dict[str, str]) -> str:
        """Create the run of step ``address`` (and of the nested workflows around it, if new) and return
        its id. ``groups`` maps nested-workflow addresses to run ids and is filled in place."""

        def create() -> str:
            owner = self._ensure_groups(parent, address, groups, tags)
            run = self.client.create_run(
                self.experiment_id,
                run_name=address,
                tags={"mlflow.parentRunId": owner, "scanflow.node": address, "scanflow.kind": "step", **tags},
            )
            return str(run.info.run_id)

        return self._now(create)

    def _ensure_groups(self, parent: str, address: str, groups: dict[str, str], tags: Mapping[str, str]) -> str:
        """Create the runs of the nested workflows around ``address`` that do not exist yet (writer thread
        only); returns the id of the innermost, the new run's parent."""
        owner = parent
        parts = address.split("/")
        for i in range(1, len(parts)):
            group = "/".join(parts[:i])
            if group not in groups:
                run = self.client.create_run(
                    self.experiment_id,
                    run_name=group,
                    tags={"mlflow.parentRunId": owner, "scanflow.node": group, "scanflow.kind": "workflow", **tags},
                )
                groups[group] = str(run.info.run_id)
            owner = groups[group]
        return owner

    def finish_node(
        self,
        run_id: str,
        state: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        logs: Mapping[str, Path],
    ) -> Future[None]:
        """Close a step's run in the background: params the script did not log itself, metrics, tags,
        stdout/stderr as artifacts, and the final status."""
        from mlflow.entities import Metric, Param, RunTag

        def close() -> None:
            logged = self.client.get_run(run_id).data.params
            now = int(time.time() * 1000)
            self.client.log_batch(
                run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                params=[Param(k, str(v)) for k, v in params.items() if k not in logged],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            for path in logs.values():
                if path.exists():
                    self.client.log_artifact(run_id, str(path), "logs")
            self.client.set_terminated(run_id, STATUS.get(state, "FAILED"))

        return self._submit(close)

    def record_cached(
        self,
        parent: str,
        address: str,
        tags: Mapping[str, str],
        groups: dict[str, str],
        source: str | None,
        params: Mapping[str, Any],
    ) -> Future[str]:
        """In the background, record a step reused from the cache: a FINISHED run pointing at the run
        whose result it reuses (tag ``scanflow.cached_from``)."""

        def create() -> str:
            owner = self._ensure_groups(parent, address, groups, tags)
            run = self.client.create_run(
                self.experiment_id,
                run_name=address,
                tags={
                    "mlflow.parentRunId": owner,
                    "scanflow.node": address,
                    "scanflow.kind": "step",
                    "scanflow.state": "cached",
                    "scanflow.cached_from": source or "",
                    **tags,
                },
            )
            if params:
                from mlflow.entities import Param

                self.client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()])
            self.client.set_terminated(run.info.run_id, "FINISHED")
            return str(run.info.run_id)

        return self._submit(create)

    def finish_run(self, run_id: str, state: str) -> Future[None]:
        """Set the final status of a parent or group run, in the background."""
        return self._submit(lambda: self.client.set_terminated(run_id, STATUS.get(state, "FAILED")))

    def finish_group(self, groups: dict[str, str], group: str, state: str) -> Future[None]:
        """Close the run of nested workflow ``group``, looked up when the write happens (its run may be
        created by a write queued just before this one)."""

        def close() -> None:
            if group in groups:
                self.client.set_terminated(groups[group], STATUS.get(state, "FAILED"))

        return self._submit(close)

    def mark_stale(self, run_ids: list[str]) -> None:
        """Runs left RUNNING by a killed process become KILLED (others are left as they are)."""

        def mark() -> None:
            for run_id in run_ids:
                try:
                    if self.client.get_run(run_id).info.status in ("RUNNING", "SCHEDULED"):
                        self.client.set_terminated(run_id, "KILLED")
                except Exception:  # a run deleted by hand: nothing to mark
                    continue

        self._now(mark)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> Future[None]:
        return self._submit(lambda: self.client.log_text(run_id, text, artifact_file))

    def close(self) -> None:
        """Finish every queued write, then stop the writer thread. Errors of queued writes are raised."""
        if self._closed:
            return
        self._closed = True
        self._submit(_STOP, 2).result()
        self._thread.join()


def _STOP() -> None:  # sentinel for the writer thread
    return None
