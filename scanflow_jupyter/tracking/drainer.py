"""The drainer: does a tracking journal's writes (:mod:`.journal`) in MLflow, in order, with MLflow's own client.

Run as ``python -m scanflow_jupyter.tracking.drainer JOURNAL`` with the store's URI in
:data:`.journal.URI_VARIABLE`, detached from the command that starts it. It holds the journal's drainer lock (a
second drainer leaves at once), imports MLflow only when there is something to write, marks each write done once
MLflow has it, and leaves when the journal is empty and no process is appending to it.

Each write is safe to do twice (a drainer killed between doing a write and marking it done): a run that exists
already is not created again, a metric point logged twice is kept once, params and tags are the same values,
an artifact is written over with the same file, and a status set twice is the same status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .journal import DRAINER_LOCK, URI_VARIABLE, WANTED, WRITERS_LOCK, Journal, try_lock
from .writer import STATUS, Writer

KILL_AFTER = "SCANFLOW_DRAINER_KILL_AFTER"  # fault tests: SIGKILL itself after this many writes, before marking it
LAG = 10.0  # seconds a write waits at most for the drainer to start while a run goes on
IDLE_POLL = 0.02  # seconds between looks at the journal while a process is appending to it
BATCH = 20  # writes done in MLflow before they are marked done together
ATTEMPTS = 5  # a write MLflow refuses this many times is set aside (marked failed), so the rest goes on


class _ChosenUuid:
    """Stands in for the ``uuid`` module in MLflow's SQL store for one ``create_run``: its ``uuid4()`` is the id
    the engine chose (and handed to the step already)."""

    def __init__(self, run_id: str) -> None:
        self._value = uuid.UUID(hex=run_id)

    def uuid4(self) -> uuid.UUID:
        return self._value

    def __getattr__(self, name: str) -> Any:
        return getattr(uuid, name)


class Drainer(Writer):
    """The journal's ops: the writer's, and run creation with an id chosen before."""

    def create_run(self, run_id: str, experiment_id: str, run_name: str, tags: dict[str, str], start_time: int) -> None:
        from mlflow.exceptions import MlflowException
        from mlflow.store.tracking import sqlalchemy_store

        try:
            self.client.get_run(run_id)
            return  # done before, by a drainer that died before marking it
        except MlflowException:
            pass
        saved = sqlalchemy_store.uuid  # type: ignore[attr-defined]
        sqlalchemy_store.uuid = _ChosenUuid(run_id)  # type: ignore[attr-defined,assignment]
        try:
            run = self.client.create_run(experiment_id, start_time=start_time, tags=tags, run_name=run_name)
        finally:
            sqlalchemy_store.uuid = saved  # type: ignore[attr-defined]
        if run.info.run_id != run_id:  # an MLflow that names runs another way: never log into the wrong run
            self.client.delete_run(run.info.run_id)
            raise RuntimeError(f"MLflow named the run {run.info.run_id}, not {run_id}; this MLflow is not supported")
        self.artifact_uris[run_id] = run.info.artifact_uri

    def log_graph(self, run_id: str, graph: dict[str, Any]) -> None:
        self.client.log_dict(run_id, graph, "scanflow/graph.json")

    def close_run(self, run_id: str, state: str, end_time: int) -> None:
        self.client.set_terminated(run_id, STATUS.get(state, "FAILED"), end_time=end_time)

    def copy_metrics(self, source: str | None, run_id: str) -> None:
        self._copy_metrics(source, run_id)


def _apply(drainer: Drainer, op: str, args: dict[str, Any]) -> str | None:
    """Do one write, trying again a few times (the store busy for a moment); the error if it never went."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            getattr(drainer, op)(**args)
            return None
        except Exception as exc:
            if attempt == ATTEMPTS:
                return f"{type(exc).__name__}: {exc}"
            time.sleep(0.2 * attempt)
    return None  # pragma: no cover


def drain(journal: Journal, drainer: Drainer | None, uri: str) -> Drainer | None:
    """Do every undone write of ``journal``, in order; returns the MLflow drainer (made on first use)."""
    kill_after = int(os.environ.get(KILL_AFTER, "0") or 0)
    written = 0
    while batch := journal.pending(BATCH):
        if drainer is None:
            drainer = Drainer(uri)
        done: list[int] = []  # marked together (one transaction, not one per write: appends wait less)
        for seq, op, args in batch:
            error = _apply(drainer, op, args)
            written += 1
            if written == kill_after:  # done in MLflow, not yet marked: the next drainer does them again
                os.kill(os.getpid(), signal.SIGKILL)
            if error is None:
                done.append(seq)
            else:
                print(f"scanflow drainer: write {seq} ({op}) set aside: {error}")
                journal.mark_failed(seq, error)
        journal.mark_done(*done)
    return drainer


def _due(journal: Journal, path: Path, wanted: Path) -> bool:
    """Time to import MLflow and start: a step waits for its run (it imports MLflow: the launcher said so in
    ``wanted``), the oldest write has waited :data:`LAG` seconds, or nobody is appending any more. A short run
    so ends before its drainer competes with it for the CPU."""
    if wanted.exists():
        return True
    oldest = journal.oldest_pending()
    if oldest is not None and time.time() - oldest > LAG:
        return True
    writers = try_lock(path, WRITERS_LOCK)
    if writers is None:
        return False
    os.close(writers)
    return True


def main(argv: list[str]) -> int:
    sys.stdout = sys.stderr  # the log file
    uri = os.environ.pop(URI_VARIABLE, "")
    if not argv or not uri:
        print(f"usage: python -m scanflow_jupyter.tracking.drainer JOURNAL, with {URI_VARIABLE} set")
        return 2
    path = Path(argv[0])
    lock = try_lock(path, DRAINER_LOCK)
    if lock is None:
        return 0  # another drainer has it
    os.nice(10)  # bookkeeping yields the CPU to the steps
    journal = Journal(path, durable=False)
    drainer: Drainer | None = None
    wanted = path.with_name(path.name + WANTED)
    try:
        while drainer is None and not _due(journal, path, wanted):
            time.sleep(IDLE_POLL)
        while True:
            drainer = drain(journal, drainer, uri)
            writers = try_lock(path, WRITERS_LOCK)
            if writers is None:  # a process is appending: more will come
                time.sleep(IDLE_POLL)
                continue
            try:
                if journal.pending(1):
                    continue
                journal.compact()
                with contextlib.suppress(FileNotFoundError):
                    wanted.unlink()
                os.close(lock)  # first: a process that appends next (once `writers` is free) starts a new drainer
                return 0
            finally:
                os.close(writers)
    finally:
        journal.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
