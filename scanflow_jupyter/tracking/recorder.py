"""The MLflow run hierarchy of a workflow run: a parent run, a run per nested workflow, a child run per step.

Writes go to a tracking writer process (:mod:`.writer`), shared by every run on the same store in this
interpreter and started on first use. Creating a step's run is synchronous (the step needs its
``MLFLOW_RUN_ID`` before it starts) and jumps the queue; closing a run (params, metrics, logs, status)
is sent and not waited for, so the next step starts while the writer works on another core.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..errors import TrackingError
from .journal import replay, settle
from .store import StoreConfig, check_reachable, prepare_sqlite, redact, tracking_env
from .writer import URI_VARIABLE

HOLD_SECONDS = 0.05  # how long background writes wait for a step that may be about to start


def _writer_env(uri: str) -> dict[str, str]:
    """The writer's store: its URI in :data:`.writer.URI_VARIABLE`, a server's user and password apart (MLflow
    reads them from its own variables; its messages then hold no password)."""
    env = tracking_env(uri)
    env[URI_VARIABLE] = env.pop("MLFLOW_TRACKING_URI")
    return env


class WriterProcess:
    """A running tracking writer and the futures of the ops sent to it.

    If the process dies (killed, out of memory), it is started again and every op it had not answered is sent
    again, in order (the writer makes each op safe to do twice): a run loses no tracking write to a dead writer.
    It gives up after ``MAX_RESTARTS`` (a writer that dies at once every time), and the ops fail as before.
    """

    MAX_RESTARTS = 5

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.users = 0
        self.restarts = 0
        self._ids = itertools.count(1)
        self._futures: dict[int, Future[Any]] = {}
        self._unanswered: dict[int, dict[str, Any]] = {}  # op id -> the op, until its reply comes
        self._lock = threading.Lock()  # the two dicts
        self._io = threading.Lock()  # writing to the process, and replacing it
        self._closing = False
        self._dead = False
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.process = self._spawn()
        self._reader = threading.Thread(target=self._read, name="scanflow-tracking-replies", daemon=True)
        self._reader.start()

    def _spawn(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            # The URI goes through the environment, never the command line: ``ps`` shows a command line to every
            # user of the machine, and a tracking URI may hold a password.
            [sys.executable, "-m", "scanflow_jupyter.tracking.writer"],
            env={**os.environ, **_writer_env(self.uri)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        assert process.stdout is not None
        hello = json.loads(process.stdout.readline() or '{"error": "the writer exited at start"}')
        if "error" in hello:
            process.kill()
            process.wait()
            raise TrackingError(
                redact(
                    f"Cannot use the MLflow store {self.uri!r}: {hello['error']}{self._stderr_tail()}. Check "
                    "MLFLOW_TRACKING_URI or the application's tracker.uri, and that the server is running."
                )
            )
        return process

    @property
    def alive(self) -> bool:
        """False once closed, or given up on; a writer being started again counts as alive."""
        return not self._dead and not self._closing

    @property
    def pid(self) -> int:
        return self.process.pid

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-5:]
        return (" (" + " / ".join(lines) + ")") if lines else ""

    def _read(self) -> None:
        while True:
            process = self.process
            assert process.stdout is not None
            for line in process.stdout:
                reply = json.loads(line)
                with self._lock:
                    future = self._futures.pop(reply["id"], None)
                    self._unanswered.pop(reply["id"], None)
                if future is None:
                    continue
                if "error" in reply:
                    refused = f"MLflow store {self.uri!r} refused a write: {reply['error']}"
                    future.set_exception(TrackingError(redact(refused)))
                else:
                    future.set_result(reply["result"])
            process.wait()
            if not self._restart():
                return

    def _restart(self) -> bool:
        """Start the writer again and send it the ops left unanswered; False (every op failed) if closing or
        given up."""
        with self._io:
            while not self._closing and self.restarts < self.MAX_RESTARTS:
                self.restarts += 1
                try:
                    self.process = self._spawn()
                except (TrackingError, OSError):
                    continue  # it died while starting: try again
                with self._lock:
                    unanswered = list(self._unanswered.values())
                try:
                    for op in unanswered:
                        self._write({**op, "replay": True})
                except (OSError, ValueError):
                    pass  # died again at once: the next turn of _read starts it again
                return True
            self._dead = True
            with self._lock:  # nothing more will come
                pending, self._futures, self._unanswered = self._futures, {}, {}
        for future in pending.values():
            future.set_exception(self._stopped())
        return False

    def _write(self, op: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(op) + "\n")
        self.process.stdin.flush()

    def send(self, op: str, urgent: bool = False, future: Future[Any] | None = None, **args: Any) -> Future[Any]:
        future = future if future is not None else Future()
        with self._io:  # an op is either sent to the process before a restart (and replayed) or after it
            if self._dead:
                future.set_exception(self._stopped())
                return future
            with self._lock:
                op_id = next(self._ids)
                message = {"id": op_id, "op": op, "args": args, "urgent": urgent}
                self._futures[op_id] = future
                self._unanswered[op_id] = message
            with contextlib.suppress(OSError, ValueError):  # the process died: the reader starts another and
                self._write(message)  # sends this op again
        return future

    def _stopped(self) -> TrackingError:
        return TrackingError(redact(f"The tracking writer for {self.uri!r} stopped{self._stderr_tail()}."))

    def close(self) -> None:
        self._closing = True
        if self.process.poll() is None and self.process.stdin is not None:
            try:
                self.process.stdin.close()
                self.process.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()


_writers: OrderedDict[str, WriterProcess] = OrderedDict()
_writers_lock = threading.Lock()
KEEP_IDLE_WRITERS = 2  # writers kept for stores no run is using, most recently used first


def writer_for(uri: str) -> WriterProcess:
    """The shared writer process for a store, started if there is none (or it died). Each caller must
    call :func:`release_writer` when done with it."""
    with _writers_lock:
        writer = _writers.get(uri)
        if writer is None or not writer.alive:
            writer = _writers[uri] = WriterProcess(uri)
        _writers.move_to_end(uri)
        writer.users += 1
        return writer


def release_writer(writer: WriterProcess) -> None:
    """Say a run is done with ``writer``; writers beyond the few most recent idle ones are stopped."""
    with _writers_lock:
        writer.users -= 1
        idle = [uri for uri, w in _writers.items() if w.users == 0]
        for uri in idle[: max(0, len(idle) - KEEP_IDLE_WRITERS)]:
            _writers.pop(uri).close()


def close_idle_writers(uri: str | None = None) -> int:
    """Stop the writer processes no run is using (of the store ``uri``, or of every store); returns how many.
    What leaves nothing behind when it is done (an agent that ran workflows, when it stops)."""
    with _writers_lock:
        idle = [u for u, w in _writers.items() if w.users == 0 and (uri is None or u == uri)]
        writers = [_writers.pop(u) for u in idle]
    for writer in writers:
        writer.close()
    return len(writers)


def prewarm(config: StoreConfig) -> threading.Thread:
    """Start the store's writer process in the background (it takes about 1.5 s to import MLflow), so the
    first tracked run does not wait for it. Errors are left for that run to report."""

    def start() -> None:
        try:
            check_reachable(config)
            prepare_sqlite(config)
            replay(config)  # what a killed drainer left
            release_writer(writer_for(config.uri))
        except Exception:
            return

    thread = threading.Thread(target=start, name="scanflow-tracking-prewarm", daemon=True)
    thread.start()
    return thread


@atexit.register
def _close_writers() -> None:
    for writer in list(_writers.values()):
        writer.close()


class RunRecorder:
    """Write one workflow run's MLflow runs.

    Parameters
    ----------
    config:
        The resolved store (see :func:`scanflow_jupyter.tracking.store.resolve`).
    """

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.failures: list[str] = []  # errors of background writes, for the run to report
        self._sent: list[Future[Any]] = []
        # Background writes wait here until the next urgent write has gone (or a moment has passed), so
        # the writer is free when a step asks for its run: closing step N must not delay step N+1.
        self._held: list[tuple[str, dict[str, Any], Future[Any]]] = []
        self._held_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        check_reachable(config)
        try:
            prepare_sqlite(config)
        except OSError as exc:
            raise TrackingError(redact(f"Cannot create the MLflow store {config.uri!r}: {exc}.")) from None
        settle(config)  # what the journal holds first: this run reads the store (a resume) and writes after it
        self._closed = False
        self._writer = writer_for(config.uri)
        try:
            self.experiment_id: str = self._now(
                "experiment", name=config.experiment, artifact_root=config.artifact_root
            )
        except BaseException:
            self.close()
            raise

    def _now(self, op: str, **args: Any) -> Any:
        future = self._writer.send(op, urgent=True, **args)
        self._release()
        return future.result()

    def _later(self, op: str, **args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.add_done_callback(self._note_failure)
        self._sent.append(future)
        with self._held_lock:
            self._held.append((op, args, future))
            if self._timer is None:
                self._timer = threading.Timer(HOLD_SECONDS, self._release)
                self._timer.daemon = True
                self._timer.start()
        return future

    def _release(self) -> None:
        """Send the held background writes, in order."""
        with self._held_lock:
            held, self._held = self._held, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            for op, args, future in held:
                self._writer.send(op, future=future, **args)

    def _note_failure(self, future: Future[Any]) -> None:
        if future.exception() is not None:
            self.failures.append(str(future.exception()))

    def start_workflow(self, run_name: str, tags: Mapping[str, str], graph: Mapping[str, Any]) -> str:
        """Create the parent run and attach the graph as ``scanflow/graph.json``; returns its id."""
        return str(
            self._now(
                "start_workflow",
                experiment_id=self.experiment_id,
                run_name=run_name,
                tags=dict(tags),
                graph=dict(graph),
            )
        )

    def reopen_workflow(self, run_id: str, groups: Mapping[str, str]) -> None:
        """Mark an interrupted parent run (and its nested-workflow runs) as running again, for resume."""
        self._now("reopen", run_id=run_id, groups=dict(groups))

    def start_node(self, parent: str, address: str, tags: Mapping[str, str], groups: dict[str, str]) -> str:
        """Create the run of step ``address`` (and of the nested workflows around it, if new) and return
        its id. ``groups`` maps nested-workflow addresses to run ids and is updated in place."""
        reply = self._now(
            "start_node", experiment_id=self.experiment_id, parent=parent, address=address, tags=dict(tags)
        )
        groups.update(reply["groups"])
        return str(reply["run_id"])

    @property
    def writer_pid(self) -> int:
        """The writer process's pid (it changes if the writer had to be started again)."""
        return self._writer.pid

    @property
    def writer_restarts(self) -> int:
        return self._writer.restarts

    def inventory(self, scanflow_run_id: str) -> list[dict[str, Any]]:
        """Every MLflow run of one scanflow run, as the store holds it (to finish what a dead driver left)."""
        return list(self._now("inventory", experiment_id=self.experiment_id, scanflow_run_id=scanflow_run_id))

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
        """In the background, record a step reused from the cache: a FINISHED run saying whose result it reuses
        (tags ``scanflow.cached_from``, the MLflow run id ``source``, and ``scanflow.cached_from_run_id``, the
        scanflow run id ``source_run``) and carrying that run's metrics. The future holds the new run's id."""
        future = self._later(
            "record_cached",
            experiment_id=self.experiment_id,
            parent=parent,
            address=address,
            tags=dict(tags),
            source=source,
            params=dict(params),
            source_run=source_run,
        )
        out: Future[str] = Future()

        def done(f: Future[Any]) -> None:
            if f.exception() is not None:
                out.set_exception(f.exception())
            else:
                groups.update(f.result()["groups"])
                out.set_result(str(f.result()["run_id"]))

        future.add_done_callback(done)
        return out

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
        """Close a step's run in the background: params (the script's own values win), metrics (at
        ``timestamp``, default now), tags, stdout/stderr as artifacts under ``logs/``, and the final status.
        Three writes, so a step about to start waits for one of them at most; ``artifacts`` (more files, by
        artifact folder: a step's values) one more each."""
        self._later(
            "log_batch",
            run_id=run_id,
            params=dict(params),
            metrics=dict(metrics),
            tags=dict(tags),
            timestamp=time.time() if timestamp is None else timestamp,
        )
        files = [str(p) for p in logs.values() if p.exists()]
        self._later("upload", run_id=run_id, files=files, folder="logs")
        for folder, paths in (artifacts or {}).items():
            self._later("upload", run_id=run_id, files=[str(p) for p in paths], folder=folder)
        self._later("terminate", run_id=run_id, state=state)

    def finish_group(self, parent: str, group: str, state: str) -> None:
        """Close the run of nested workflow ``group`` in the background."""
        self._later("finish_group", parent=parent, group=group, state=state)

    def finish_run(self, run_id: str, state: str) -> None:
        """Set the final status of the parent run, in the background."""
        self._later("terminate", run_id=run_id, state=state)

    def mark_stale(self, run_ids: list[str], status: str = "KILLED") -> None:
        """Runs left RUNNING by a killed process get ``status`` (others are left as they are)."""
        self._now("mark_stale", run_ids=run_ids, status=status)

    def supersede(self, run_ids: list[str]) -> None:
        """Runs of attempts that count for nothing (their steps run again) end KILLED, whatever status they have."""
        self._now("supersede", run_ids=run_ids)

    def close(self) -> None:
        """Wait until every write of this run is done (the writer process stays, for the next run)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._release()
            self._writer.send("flush").result()
            for future in self._sent:
                future.exception()  # already settled: the writer handles ops in order
        finally:
            release_writer(self._writer)
