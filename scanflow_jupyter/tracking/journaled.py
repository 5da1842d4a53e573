"""A workflow run's MLflow runs written through the store's journal (:mod:`.journal`): the same run tree as
:class:`.recorder.RunRecorder` writes (runs, names, tags, params, metrics with their timestamps, logs as
artifacts, statuses, parent links), but each write is a durable append here and is done in MLflow by the
drainer, after the command may have exited. Nothing here imports MLflow.

:func:`open_recorder` picks this one or the MLflow writer process for a run.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..errors import TrackingError
from .journal import Journal, hold_writers, journal_path, journaled_experiment, start_drainer
from .protocol import Recorder
from .runtags import cached_tags, group_tags, step_tags
from .store import StoreConfig

JOURNAL_VARIABLE = "SCANFLOW_TRACKING_JOURNAL"  # "0": write through MLflow's client at once, as before
_detached = False


def detach(on: bool = True) -> None:
    """Let this process's runs end before MLflow has their writes (the drainer does them after): for a command
    that exits when its run ends. A notebook kernel, which shows the run in MLflow at once, does not call it."""
    global _detached
    _detached = on


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class JournalRecorder:
    """Write one workflow run's MLflow runs through the journal; the interface of :class:`.recorder.RunRecorder`.

    Run ids are chosen here, so :meth:`start_node` returns at once (after one fsync).
    """

    def __init__(self, config: StoreConfig, experiment_id: str, path: Path) -> None:
        self.config = config
        self.experiment_id = experiment_id
        self.failures: list[str] = []
        self.path = path
        self._lock = threading.Lock()
        self._groups: dict[str, dict[str, str]] = {}  # parent run -> nested workflow address -> run
        self._writers = hold_writers(path)  # before anything is appended: a drainer waits for it
        try:
            self._journal = Journal(path)
        except BaseException:
            os.close(self._writers)
            raise
        self._closed = False
        self._drainer = start_drainer(path, config.uri)

    @property
    def writer_pid(self) -> int:
        """This process: the journal is on disk, nothing outlives the run that a resume must wait for."""
        return os.getpid()

    @property
    def writer_restarts(self) -> int:
        return 0

    def _append(self, *writes: tuple[str, dict[str, Any]]) -> None:
        with self._lock:
            if self._closed:
                raise TrackingError(f"The tracking journal {self.path} was closed; the run wrote after its end.")
            self._journal.append(list(writes))

    def _create(self, run_name: str, tags: Mapping[str, str]) -> tuple[str, tuple[str, dict[str, Any]]]:
        run_id = uuid.uuid4().hex
        args = {
            "run_id": run_id,
            "experiment_id": self.experiment_id,
            "run_name": run_name,
            "tags": dict(tags),
            "start_time": _ms(time.time()),
        }
        return run_id, ("create_run", args)

    def start_workflow(self, run_name: str, tags: Mapping[str, str], graph: Mapping[str, Any]) -> str:
        run_id, create = self._create(run_name, tags)
        self._groups[run_id] = {}
        self._append(create, ("log_graph", {"run_id": run_id, "graph": dict(graph)}))
        return run_id

    def reopen_workflow(self, run_id: str, groups: Mapping[str, str]) -> None:
        self._groups[run_id] = dict(groups)
        self._append(("reopen", {"run_id": run_id, "groups": dict(groups)}))

    def _ensure_groups(
        self, parent: str, address: str, tags: Mapping[str, str], writes: list[tuple[str, dict[str, Any]]]
    ) -> str:
        groups = self._groups.setdefault(parent, {})
        owner = parent
        parts = address.split("/")
        for i in range(1, len(parts)):
            group = "/".join(parts[:i])
            if group not in groups:
                groups[group], create = self._create(group, group_tags(owner, group, tags))
                writes.append(create)
            owner = groups[group]
        return owner

    def start_node(self, parent: str, address: str, tags: Mapping[str, str], groups: dict[str, str]) -> str:
        """Create the run of step ``address`` (and of the nested workflows around it, if new) and return
        its id. ``groups`` maps nested-workflow addresses to run ids and is updated in place."""
        writes: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            owner = self._ensure_groups(parent, address, tags, writes)
            run_id, create = self._create(address, step_tags(owner, address, tags))
        self._append(*writes, create)
        groups.update(self._groups[parent])
        self._ensure_drainer()
        return run_id

    def _ensure_drainer(self) -> None:
        """Start a drainer again if the one this run started has died (a step that logs itself waits for its run);
        not while it is still starting (it takes its lock only once its interpreter is up)."""
        if self._drainer is not None and self._drainer.poll() is None:
            return
        self._drainer = start_drainer(self.path, self.config.uri) or self._drainer

    def inventory(self, scanflow_run_id: str) -> list[dict[str, Any]]:
        raise TrackingError("A resumed run reads the store: it is tracked through MLflow's client, not the journal.")

    def record_cached(
        self,
        parent: str,
        address: str,
        tags: Mapping[str, str],
        groups: dict[str, str],
        source: str | None,
        params: Mapping[str, Any],
        source_run: str | None = None,
    ) -> Future[str]:
        """Record a step reused from the cache (see :meth:`.recorder.RunRecorder.record_cached`)."""
        writes: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            owner = self._ensure_groups(parent, address, tags, writes)
            run_id, create = self._create(address, cached_tags(owner, address, tags, source, source_run))
        writes.append(create)
        if params:
            writes.append(("log_batch", {"run_id": run_id, "params": dict(params), "metrics": {}, "tags": {}}))
        writes.append(("copy_metrics", {"source": source, "run_id": run_id}))
        writes.append(("close_run", {"run_id": run_id, "state": "cached", "end_time": _ms(time.time())}))
        future: Future[str] = Future()
        try:
            self._append(*writes)
        except Exception as exc:
            self.failures.append(str(exc))
            future.set_exception(exc)
            return future
        groups.update(self._groups[parent])
        future.set_result(run_id)
        return future

    def finish_node(
        self,
        run_id: str,
        state: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        logs: Mapping[str, Path],
        timestamp: float | None = None,
        artifacts: Mapping[str, Sequence[Path]] | None = None,
    ) -> None:
        """Close a step's run: params, metrics at ``timestamp`` (default now), tags, logs, ``artifacts`` (more files,
        by artifact folder), status."""
        now = time.time()
        batch = {
            "run_id": run_id,
            "params": dict(params),
            "metrics": dict(metrics),
            "tags": dict(tags),
            "timestamp": now if timestamp is None else timestamp,
        }
        files = [str(p) for p in logs.values() if p.exists()]
        self._append(
            ("log_batch", batch),
            ("upload", {"run_id": run_id, "files": files, "folder": "logs"}),
            *(
                ("upload", {"run_id": run_id, "files": [str(p) for p in paths], "folder": folder})
                for folder, paths in (artifacts or {}).items()
            ),
            ("close_run", {"run_id": run_id, "state": state, "end_time": _ms(now)}),
        )

    def finish_group(self, parent: str, group: str, state: str) -> None:
        run_id = self._groups.get(parent, {}).get(group)
        if run_id is not None:
            self._append(("close_run", {"run_id": run_id, "state": state, "end_time": _ms(time.time())}))

    def finish_run(self, run_id: str, state: str) -> None:
        self._append(("close_run", {"run_id": run_id, "state": state, "end_time": _ms(time.time())}))

    def mark_stale(self, run_ids: list[str], status: str = "KILLED") -> None:
        self._append(("mark_stale", {"run_ids": list(run_ids), "status": status}))

    def supersede(self, run_ids: list[str]) -> None:
        self._append(("supersede", {"run_ids": list(run_ids)}))

    def close(self) -> None:
        """Stop appending (the drainer does the rest, and leaves when it is done)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._journal.close()
            os.close(self._writers)


def open_recorder(config: StoreConfig, journal: bool = True) -> Recorder:
    """The recorder of a run on ``config``'s store: through the journal when this process is detached
    (:func:`detach`), ``journal`` allows it, the store can take it (see :func:`.journal.journaled_experiment`) and
    :data:`JOURNAL_VARIABLE` is not ``0``; else the MLflow writer process (:class:`.recorder.RunRecorder`)."""
    if journal and _detached and os.environ.get(JOURNAL_VARIABLE, "1") != "0":
        path = journal_path(config)
        experiment_id = journaled_experiment(config)
        if path is not None and experiment_id is not None:
            return JournalRecorder(config, experiment_id, path)
    from .recorder import RunRecorder

    return RunRecorder(config)
