"""A workflow run: validation, run state, caching, tracking and the backend wired around the scheduler.

``run`` starts a new run, ``resume`` finishes a failed or killed one, ``status`` reports on one (and
notices a run whose process died). All three are what the CLI and the notebook call.

One process drives a run at a time: ``run`` and ``resume`` hold the run's lock (:mod:`.driverlock`) from before
the first state is written until the last. Nothing that goes wrong in the run's own bookkeeping (a state file the
disk refuses, a cache record, a tracking write) hangs it: the run stops its steps and ends ``failed`` with that
error first among its errors.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    CorruptStateError,
    RunError,
    RunInProgressError,
    RunNotFoundError,
    ScanflowError,
    StateWriteError,
    StepFailedError,
    StepTimeoutError,
    StepValueError,
)
from ..tracking.quiet import QUIET_ENV
from ..workflow import Application, Executor, FlatGraph, flatten
from ..workflow.dot import group_state
from ..workflow.params import ParamValue
from ..workflow.refs import parameter_references
from . import failpoints
from . import values as dataflow
from .backend import Backend, Outcome, Task, tail
from .cache import Cache, node_key, output_digests
from .driverlock import DriverLock
from .events import Event, EventBus, NodeState, global_bus
from .local import LocalBackend
from .params_resolve import requirements_of, resolve_overrides, step_command, step_params
from .procs import same_process, start_time, stop_process_group, wait_gone
from .scheduler import Scheduler
from .state import NodeRecord, RunState, new_run_id, runs_dir, scan_runs, scanflow_dir
from .statefile import StateWriter

RUN_ERROR = ""  # the key of a run's own error (not a step's) in RunResult.errors
WRITER_DRAIN_WAIT = 60.0  # seconds resume waits for a dead driver's tracking writer to finish what it was sent

if TYPE_CHECKING:  # keeps MLflow out of import time
    from ..tracking import Recorder


@dataclass
class RunResult:
    """How a run ended. ``states`` maps step addresses to their final state."""

    run_id: str
    status: str
    states: dict[str, NodeState]
    state: RunState = field(repr=False)
    # By step address; the run's own error (a state the disk refused) first, under RUN_ERROR ("").
    errors: dict[str, ScanflowError] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def raise_for_status(self) -> RunResult:
        """Raise the first step's error if the run did not succeed; returns self otherwise."""
        if not self.ok:
            if self.errors:
                raise next(iter(self.errors.values()))
            raise ScanflowError(f"Run {self.run_id} ended {self.status}.")
        return self

    def _repr_html_(self) -> str:  # a compact table in notebooks
        import html

        rows = "".join(
            f"<tr><td>{html.escape(a)}</td><td>{html.escape(s.value)}</td></tr>" for a, s in self.states.items()
        )
        return (
            f"<b>run {html.escape(self.run_id)}: {html.escape(self.status)}</b>"
            f"<table><tr><th>step</th><th>state</th></tr>{rows}</table>"
        )


def _run_status(states: Mapping[str, NodeState]) -> str:
    values = set(states.values())
    if values <= {NodeState.SUCCEEDED, NodeState.CACHED}:
        return "succeeded"
    if NodeState.FAILED in values:
        return "failed"
    return "cancelled"


class WorkflowRun:
    """One run (or one resumption) of a workflow. Use :func:`run` and :func:`resume` rather than this.

    ``lock``: the run's lock, when the caller took it already (``resume`` takes it before it reads the state).
    ``previous``: resuming, the records the attempts before left (their MLflow runs are closed or taken up).
    """

    def __init__(
        self,
        app: Application,
        state: RunState,
        graph: FlatGraph,
        overrides: dict[str, dict[str, ParamValue]],
        backend: Backend | None = None,
        tracking: bool = True,
        bus: EventBus | None = None,
        lock: DriverLock | None = None,
        previous: Mapping[str, NodeRecord] | None = None,
    ) -> None:
        self.app = app
        self.folder = Path(state.folder)
        self.state = state
        self.graph = graph
        self.overrides = overrides
        self.backend: Backend = backend or LocalBackend()
        self.bus = bus or EventBus()
        self.cache = Cache(scanflow_dir(self.folder) / "cache")
        self.recorder: Recorder | None = None
        self.tracking = tracking
        self.lock = lock
        self.resumed = previous is not None
        self.previous = dict(previous or {})
        self.errors: dict[str, ScanflowError] = {}
        self.fatal: ScanflowError | None = None  # what broke the run's own bookkeeping (it then stops, failed)
        self._state_writer: StateWriter | None = None
        self._writer_seen: int | None = None
        self._handles: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._keys: dict[str, str] = {}
        self._outputs: dict[str, dict[str, str]] = {}
        self._finished_groups: set[str] = set()
        self._values: dict[str, dataflow.StepValues] = {}  # what each step gave and read, by address
        # A step's value that could not be resolved or kept (a full disk among them): its attempt reports it.
        self._value_errors: dict[str, StepValueError | StateWriteError] = {}
        self._resolved: dict[str, dict[str, ParamValue]] = {}  # parameters with their ${...} references resolved
        self._mlflow: Any = None  # a client of the store, once a value had to be read back from it
        self.scheduler: Scheduler | None = None
        self._done = threading.Event()
        self._cancel_requested = False

    # -- events and state ---------------------------------------------------------------------
    def _publish(self, event: Event) -> None:
        self.bus.publish(event)
        global_bus.publish(event)

    def _record(self, address: str) -> NodeRecord:
        return self.state.nodes.setdefault(address, NodeRecord())

    def _save(self) -> int:
        """Queue the state for its file (written durably in the background); returns the snapshot's number,
        for ``self._state_writer.wait``."""
        with self._lock:
            if self.recorder is not None and self.recorder.writer_pid != self._writer_seen:
                self._writer_seen = self.recorder.writer_pid
                self.state.writer_pid, self.state.writer_started = self._writer_seen, start_time(self._writer_seen)
            data = self.state.snapshot()
        assert self._state_writer is not None, "the state writer starts with the run"
        return self._state_writer.submit(data)

    def _fail(self, exc: BaseException) -> None:
        """The run's own bookkeeping broke (its state file, a cache record, a tracking call): the run stops and
        ends failed, with this error first. Never raises: it is called from the scheduler's callbacks and
        from the state writer's thread."""
        error = (
            exc
            if isinstance(exc, ScanflowError)
            else RunError(
                f"Run {self.state.run_id} stopped: {type(exc).__name__}: {exc}. 'scanflow resume "
                f"{self.state.run_id}' finishes it, reusing the steps that finished."
            )
        )
        with self._lock:
            if self.fatal is not None:
                return
            self.fatal = error
        self._publish(Event("log", self.state.run_id, message=f"the run stops: {error}"))
        # Stopping steps waits for them (a grace period each): not on the thread that found the fault.
        threading.Thread(target=self.cancel, name=f"scanflow-stop-{self.state.run_id}", daemon=True).start()

    def _on_state(self, address: str, state: NodeState, info: dict[str, Any]) -> None:
        try:
            self._note_state(address, state, info)
        except Exception as exc:  # never into the scheduler: a fault here ends the run, it does not hang it
            self._fail(exc)

    def _note_state(self, address: str, state: NodeState, info: dict[str, Any]) -> None:
        with self._lock:
            rec = self._record(address)
            outcome: Outcome | None = info.get("outcome")
            if "retry" in info:
                assert outcome is not None
                self._publish(
                    Event(
                        "log",
                        self.state.run_id,
                        address,
                        NodeState.RUNNING,
                        f"attempt {info['retry'] - 1} failed ({self._describe(outcome)}); retrying",
                    )
                )
                return
            rec.state = state.value
            if state is NodeState.RUNNING:
                rec.started, rec.finished, rec.exit_code, rec.error = time.time(), None, None, None
            if outcome is not None:
                rec.exit_code = outcome.exit_code
                rec.duration = outcome.duration
                rec.attempts = info.get("attempts", rec.attempts)
                rec.finished = info.get("finished", time.time())
                if not outcome.ok:
                    rec.error = self._describe(outcome)
                    self.errors[address] = self._error(address, outcome)
            if state is NodeState.SKIPPED:
                rec.error = info.get("reason")
            saved = self._save() if state is not NodeState.RUNNING else 0  # a running step: see _attempt
            self._publish(Event("node", self.state.run_id, address, state, rec.error or "", data=dict(info)))
            if state is NodeState.SUCCEEDED:
                self._remember(address, saved)
            if state.done:
                self._close_tracking(address, state, outcome)

    def _describe(self, outcome: Outcome) -> str:
        if outcome.timed_out:
            return "timed out"
        if outcome.cancelled:
            return "cancelled"
        if outcome.exit_code is None:
            return outcome.error or "did not start"
        return f"exit code {outcome.exit_code}"

    def _error(self, address: str, outcome: Outcome) -> ScanflowError:
        run_id = self.state.run_id
        node = self.graph.nodes[address]
        if address in self._value_errors and outcome.exit_code is None and not (outcome.timed_out or outcome.cancelled):
            return self._value_errors[address]
        fix = f"Fix it, then 'scanflow resume {run_id}' re-runs it and what depends on it."
        if outcome.timed_out:
            limit = node.timeout if isinstance(node, Executor) else None
            return StepTimeoutError(
                address,
                f"ran past its timeout of {limit:g} s and was stopped (run {run_id}). Raise 'timeout' in "
                f"scanflow.yaml or make the step faster.",
                stderr_tail=tail(self.state.log_dir(address) / "stderr.txt"),
            )
        if outcome.cancelled:
            return StepFailedError(address, f"was cancelled (run {run_id}).")
        if outcome.exit_code is None:
            return StepFailedError(address, f"could not start: {outcome.error} (run {run_id}). {fix}")
        return StepFailedError(
            address, f"exited with code {outcome.exit_code} (run {run_id}). {fix}", outcome.exit_code, outcome.error
        )

    # -- caching --------------------------------------------------------------------------------
    def _key(self, address: str) -> str | None:
        node = self.graph.nodes[address]
        if not isinstance(node, Executor):
            return None
        if address not in self._keys:
            upstream: dict[str, dict[str, Any]] = {}
            for dep in self.graph.deps[address]:
                upstream[dep] = {
                    "key": self._keys.get(dep) or self._record(dep).cache_key,
                    "outputs": self._outputs.get(dep, {}),
                }
                digest = self._values_of(dep).digest()
                if digest:  # only then: the keys of steps that pass no values stay as they were
                    upstream[dep]["values"] = digest
            argv = step_command(node, self._params(address))
            self._keys[address] = node_key(self.app, node, argv, upstream)
            self._record(address).cache_key = self._keys[address]
        return self._keys[address]

    def _try_cache(self, address: str) -> bool:
        try:
            return self._reuse(address)
        except Exception as exc:  # never into the scheduler (see _on_state)
            self._fail(exc)
            return False

    def _reuse(self, address: str) -> bool:
        node = self.graph.nodes[address]
        key = self._key(address)
        if address in self._value_errors:  # a ${...} parameter that cannot be resolved: the attempt reports it
            return False
        if self.state.force or key is None or not isinstance(node, Executor) or not node.cache:
            return False
        hit = self.cache.get(key)
        if hit is None:
            return False
        outputs = output_digests(self.folder, node)
        if outputs != hit.get("outputs", {}):
            return False  # a declared output changed or vanished since: run again
        if not self._restore_values(address, hit):
            return False  # its values are lost: run it again rather than hand the next steps nothing
        self._outputs[address] = outputs
        rec = self._record(address)
        rec.cached_from = hit.get("run_id")
        if self.recorder is not None and self.state.mlflow_run_id:
            self._record_cached(address, rec, hit)
        return True

    def _record_cached(self, address: str, rec: NodeRecord, hit: Mapping[str, Any] | None) -> None:
        """The cached step's MLflow run: whose result it reuses, with that result's metrics."""
        assert self.recorder is not None and self.state.mlflow_run_id is not None
        future = self.recorder.record_cached(
            self.state.mlflow_run_id,
            address,
            self._tags(address),
            self.state.mlflow_groups,
            hit.get("mlflow_run_id") if hit else None,
            {**self._params(address), **dataflow.value_params(self._values.get(address, dataflow.StepValues()))},
            rec.cached_from,
        )

        def keep_id(f: Future[str], rec: NodeRecord = rec) -> None:
            rec.mlflow_run_id = None if f.exception() else f.result()

        future.add_done_callback(keep_id)

    def _remember(self, address: str, saved: int) -> None:
        """Put a succeeded step in the cache, once the state that says it succeeded (snapshot ``saved``) is on
        disk: after a crash, a step is either recorded as done or run again, never reused from a cache record
        whose run knows nothing of it."""
        node = self.graph.nodes[address]
        key = self._key(address)
        if key is None or not isinstance(node, Executor):
            return
        self._outputs[address] = outputs = output_digests(self.folder, node)  # now: the next steps' keys use them
        values = self._values.get(address, dataflow.StepValues())
        rec = self._record(address)
        finished = time.time()

        def put() -> None:
            self.cache.put(
                key,
                {
                    "address": address,
                    "run_id": self.state.run_id,
                    "outputs": outputs,
                    "values": values.digest(),
                    "mlflow_run_id": rec.mlflow_run_id,
                    "finished": finished,
                },
            )

        assert self._state_writer is not None
        self._state_writer.after(saved, put)

    # -- running a step -------------------------------------------------------------------------
    def _params(self, address: str) -> dict[str, ParamValue]:
        """The step's parameters, its ``${STEP.NAME}`` references resolved (the upstream steps are done when this is
        first called for it). A reference that cannot be resolved is kept in ``_value_errors`` (the attempt fails with
        it) and the parameters come back unresolved, for the records."""
        node = self.graph.nodes[address]
        assert isinstance(node, Executor)
        overrides = self.overrides.get(address, {})
        if address in self._resolved:
            return self._resolved[address]
        if next(parameter_references(node), None) is None:
            return step_params(node, overrides)
        try:
            resolved = dataflow.resolve_params(node, address, overrides, lambda: self._upstream_values(address))
        except StepValueError as exc:
            self._value_errors[address] = exc
            return {n: overrides.get(n, p.default) for n, p in node.parameters.items() if p.default is not None}
        self._resolved[address] = resolved
        return resolved

    # -- values between steps -------------------------------------------------------------------
    def _upstream_values(self, address: str) -> dict[str, dict[str, Any]]:
        """The outputs of every step upstream of ``address``, by address."""
        return {
            dep: self._values_of(dep).outputs
            for dep in sorted(self.graph.upstream(address))
            if isinstance(self.graph.nodes[dep], Executor)
        }

    def _values_of(self, address: str) -> dataflow.StepValues:
        """What a finished step gave: kept in memory, else its record in this run's folder, else in the folder of the
        run it was reused from, else in its MLflow run (a run folder that is gone)."""
        with self._lock:
            known = self._values.get(address)
        if known is not None:
            return known
        rec = self._record(address)
        found = dataflow.load(dataflow.values_dir(self.state.dir, address))
        if found is None:
            found = self._values_kept_by(rec.cached_from, address, rec.mlflow_run_id)
        found = found or dataflow.StepValues()
        with self._lock:
            return self._values.setdefault(address, found)

    def _values_kept_by(
        self, run_id: str | None, address: str, mlflow_run_id: str | None
    ) -> dataflow.StepValues | None:
        """The values of step ``address`` kept by scanflow run ``run_id`` (its folder), else by its MLflow run."""
        found = dataflow.load(dataflow.values_dir(runs_dir(self.folder) / run_id, address)) if run_id else None
        return found if found is not None else self._values_from_mlflow(mlflow_run_id)

    def _values_from_mlflow(self, mlflow_run_id: str | None) -> dataflow.StepValues | None:
        if mlflow_run_id is None or self.recorder is None:
            return None
        from ..tracking.values import client, read_values

        if self._mlflow is None:
            self._mlflow = client(self.recorder.config)
        data = read_values(self._mlflow, mlflow_run_id)
        return None if data is None else dataflow.StepValues.from_json(data)

    def _restore_values(self, address: str, hit: Mapping[str, Any]) -> bool:
        """A cache hit's values, from the run that made them (its folder, else its MLflow run), kept with this run;
        False if they are lost (or not those the cache record names)."""
        found = self._values_kept_by(hit.get("run_id"), address, hit.get("mlflow_run_id"))
        wanted = hit.get("values")
        if found is None:
            if wanted:
                return False
            found = dataflow.StepValues()
        if wanted is not None and found.digest() != wanted:
            return False
        try:
            dataflow.save(dataflow.values_dir(self.state.dir, address), found)
        except StateWriteError:
            return False  # run it again: its attempt says what the disk refused
        with self._lock:
            self._values[address] = found
        return True

    def _keep_values(self, address: str, folder: Path) -> StepValueError | StateWriteError | None:
        """After a successful attempt: check and keep what the step gave; the error if it cannot be kept."""
        try:
            found = dataflow.collect(folder, address)
            dataflow.save(folder, found)
        except (StepValueError, StateWriteError) as exc:
            return exc
        with self._lock:
            self._values[address] = found
        return None

    def _tags(self, address: str) -> dict[str, str]:
        return {
            "scanflow.run_id": self.state.run_id,
            "scanflow.app": self.app.name,
            "scanflow.workflow": self.state.workflow,
        }

    def _hand_run_id(self, address: str, rec: NodeRecord, fd: int, saved: int) -> None:
        """Create the step's MLflow run and hand its id to the waiting launcher, once the state that names the
        step's process (snapshot ``saved``) is on disk: a step never runs unknown to a resume. If either fails,
        the launcher gets nothing, exits without running the step, and the error is the step's."""
        assert self.recorder is not None and self.state.mlflow_run_id is not None
        assert self._state_writer is not None
        try:
            rec.mlflow_run_id = self.recorder.start_node(
                self.state.mlflow_run_id, address, self._tags(address), self.state.mlflow_groups
            )
            self._save()  # its run id too (not waited for: a resume finds the run by its tags)
            self._state_writer.wait(saved)
            os.write(fd, rec.mlflow_run_id.encode())
        finally:
            os.close(fd)

    def _attempt(self, address: str, attempt: int) -> Outcome:
        node = self.graph.nodes[address]
        if not isinstance(node, Executor):
            return Outcome(None, error="services run with 'scanflow deploy', not in a batch run")
        rec = self._record(address)
        self._value_errors.pop(address, None)
        params = self._params(address)
        if address in self._value_errors:
            return Outcome(None, error=str(self._value_errors[address]))
        values = dataflow.values_dir(self.state.dir, address)
        try:
            dataflow.prepare(values, address, self._upstream_values(address))
        except StateWriteError as exc:
            return Outcome(None, error=str(exc))
        # The step's own environment; where it runs adds the rest (the local backend this machine's).
        env = {**node.env, "SCANFLOW_RUN_ID": self.state.run_id, "SCANFLOW_NODE": address}
        tracking: dict[str, str] = {}
        # With tracking, the step starts at once and the launcher waits for its MLflow run id on a pipe:
        # creating the run overlaps the step's interpreter start-up (see launch.py).
        pipe: tuple[int, int] | None = None
        if self.recorder is not None and self.state.mlflow_run_id:
            from ..tracking.store import tracking_env

            tracking = tracking_env(self.recorder.config.uri)  # a password in the URI: in variables of its own
            env["MLFLOW_EXPERIMENT_ID"] = self.recorder.experiment_id
            env.pop("MLFLOW_RUN_ID", None)
            if attempt == 1 or rec.mlflow_run_id is None:
                pipe = os.pipe()
            else:
                env["MLFLOW_RUN_ID"] = rec.mlflow_run_id
        logs = self.state.log_dir(address)
        task = Task(
            self.state.run_id,
            address,
            step_command(node, params),
            self.folder,
            env,
            logs / "stdout.txt",
            logs / "stderr.txt",
            node.timeout,
            attempt,
            defaults=dict(QUIET_ENV),  # defaults only: the user's environment and the step's own env win
            tracking=tracking,
            run_id_fd=pipe[0] if pipe else None,
            requirements=tuple(requirements_of(self.app, node)) if node.isolated else None,
            values=values,
            on_message=lambda m: self._publish(Event("log", self.state.run_id, address, message=m)),
        )
        try:
            handle = self.backend.submit(task)
        except BaseException:
            if pipe:
                os.close(pipe[1])
            raise
        finally:
            if pipe:
                os.close(pipe[0])
        failpoints.hit("step.spawned")
        try:
            with self._lock:
                self._handles[address] = handle
                rec.pid = getattr(handle, "pid", None)
                rec.pid_started = start_time(rec.pid) if rec.pid else None
                rec.remote = getattr(handle, "remote", None)
            saved = self._save()
            if pipe:
                self._hand_run_id(address, rec, pipe[1], saved)
        except BaseException:
            self.backend.cancel(handle)  # a step must not run on, unknown: stop it and reap it
            self.backend.wait(handle)
            with self._lock:
                self._handles.pop(address, None)
                rec.pid = rec.pid_started = rec.remote = None
            raise
        if self.scheduler is not None and self.scheduler.cancelled:
            self.backend.cancel(handle)
        try:
            outcome = self.backend.wait(handle)
            failpoints.hit("step.done")
            if outcome.ok:
                error = self._keep_values(address, values)
                if error is not None:
                    self._value_errors[address] = error
                    return Outcome(None, duration=outcome.duration, error=str(error))
            return outcome
        finally:
            with self._lock:
                self._handles.pop(address, None)
                rec.pid = rec.pid_started = rec.remote = None

    # -- tracking -------------------------------------------------------------------------------
    def _close_step_run(self, address: str, rec: NodeRecord, state: NodeState) -> None:
        """Send a step run's closing writes, from its record (the same writes, if sent twice, log once)."""
        assert self.recorder is not None and rec.mlflow_run_id is not None
        node = self.graph.nodes.get(address)
        metrics: dict[str, float] = {}
        if rec.duration is not None:
            metrics["scanflow.duration_s"] = rec.duration
        if rec.exit_code is not None:
            metrics["scanflow.exit_code"] = float(rec.exit_code)
        logs = self.state.log_dir(address)
        params: dict[str, Any] = self._params(address) if isinstance(node, Executor) else {}
        artifacts: dict[str, list[Path]] = {}
        folder = dataflow.values_dir(self.state.dir, address)
        values = dataflow.load(folder) if state is NodeState.SUCCEEDED else None
        if values is not None and (values.outputs or values.read):
            params = {**params, **dataflow.value_params(values)}
            artifacts["scanflow"] = [folder / dataflow.RECORD_FILE]
        self.recorder.finish_node(
            rec.mlflow_run_id,
            state.value,
            params,
            metrics,
            {
                "scanflow.state": state.value,
                "scanflow.attempts": str(rec.attempts),
                "scanflow.cache_key": rec.cache_key or "",
            },
            {"stdout": logs / "stdout.txt", "stderr": logs / "stderr.txt"},
            timestamp=rec.finished,
            artifacts=artifacts,
        )

    def _close_tracking(self, address: str, state: NodeState, outcome: Outcome | None) -> None:
        rec = self._record(address)
        if self.recorder is not None and rec.mlflow_run_id and state is not NodeState.CACHED and outcome is not None:
            self._close_step_run(address, rec, state)
        # A nested workflow's run closes when every step inside it is done.
        if self.recorder is None:
            return
        assert self.scheduler is not None
        self._close_groups(self.graph.groups_of(address), self.scheduler.states)

    def _close_groups(self, groups: list[str], states: Mapping[str, NodeState]) -> None:
        """Close the runs of the nested workflows among ``groups`` whose steps are all done."""
        assert self.recorder is not None and self.state.mlflow_run_id is not None
        for group in groups:
            if group in self._finished_groups:
                continue
            inside = [states.get(a, NodeState.PENDING) for a in self.graph.groups[group]]
            if all(s.done for s in inside):
                self._finished_groups.add(group)
                verdict = group_state([s.value for s in inside])
                self.recorder.finish_group(
                    self.state.mlflow_run_id, group, verdict if verdict != "skipped" else "failed"
                )

    # -- the run as a whole ----------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the run: nothing new starts, running steps are stopped. Safe to call before the run has
        started its scheduler (it then cancels as soon as it does)."""
        self._cancel_requested = True
        if self.scheduler is not None:
            self.scheduler.cancel()
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            self.backend.cancel(handle)

    def execute(self, initial: Mapping[str, NodeState] | None = None) -> RunResult:
        """Drive the run to its end in this thread; Ctrl-C cancels it cleanly. Holds the run's lock until the
        end (``RunInProgressError`` if another process drives it)."""
        state = self.state
        failpoints.hit("run.begin")
        try:
            if self.tracking:  # first, so an unreachable store leaves nothing behind on disk
                self._open_recorder()
            failpoints.hit("run.tracking")
            if self.lock is None:  # a new run: nobody else can know its id yet
                self.lock = DriverLock.acquire(state.dir)
            state.claim()
            state.status = "running"
            for address in self.graph.nodes:
                rec = self._record(address)
                if not (initial and address in initial):
                    rec.state = NodeState.PENDING.value
            self._state_writer = StateWriter(
                state.dir / "state.json", self._fail, f"the state of run {state.run_id} to"
            )
            self._state_writer.wait(self._save())  # on disk before anything else happens
            if self.recorder is not None:
                self._open_tracking()
        except BaseException:
            self._abandon()
            raise
        self._publish(
            Event(
                "run-started",
                state.run_id,
                data={"workflow": state.workflow, "app": self.app.name, "nodes": list(self.graph.nodes)},
            )
        )
        self.scheduler = Scheduler(self.graph, self._attempt, self._on_state, state.workers, initial, self._try_cache)
        if self._cancel_requested or self.fatal is not None:  # cancelled (or broken) while tracking was opening
            self.scheduler.cancel()
        result: dict[str, NodeState] = {}

        def drive() -> None:
            try:
                result.update(self.scheduler.run())  # type: ignore[union-attr]
            except BaseException as exc:
                self._fail(exc)
            finally:
                self._done.set()

        worker = threading.Thread(target=drive, name=f"scanflow-run-{state.run_id}", daemon=True)
        worker.start()
        try:
            while not self._done.wait(0.5):
                pass
        except KeyboardInterrupt:
            self.cancel()
            self._done.wait()
        worker.join()
        return self._finish(result)

    def _abandon(self) -> None:
        """The run could not start: close what was opened (a parent MLflow run ends FAILED), let go of the lock."""
        try:
            if self.recorder is not None:
                try:
                    if self.state.mlflow_run_id and not self.resumed:
                        self.recorder.finish_run(self.state.mlflow_run_id, "failed")
                finally:
                    self.recorder.close()
        except Exception:  # the error that stopped the start is the one to report
            pass
        finally:
            if self._state_writer is not None:
                with contextlib.suppress(StateWriteError):
                    self._state_writer.close()
            if self.lock is not None:
                self.lock.release()

    def _open_recorder(self) -> None:
        from ..tracking import open_recorder, resolve
        from ..tracking.store import redact

        # Through the journal (drained into MLflow after the run) only for a new run of local steps: a resume reads
        # the store first, and a container's step reaches the store by another URI.
        self.recorder = open_recorder(
            resolve(self.app), journal=not self.resumed and isinstance(self.backend, LocalBackend)
        )
        # Shown (state.json, the graph's links), never used to connect: resume resolves the store again.
        self.state.tracking_uri = redact(self.recorder.config.uri)
        self.state.experiment_id = self.recorder.experiment_id

    def _open_tracking(self) -> None:
        """Create the run's parent MLflow run (its id is on disk before any step starts), or, resuming, take up
        the runs of the attempts before."""
        assert self.recorder is not None
        if self.resumed:
            self._recover_tracking()
        else:
            self._start_workflow()
        self._save()

    def _start_workflow(self) -> None:
        assert self.recorder is not None
        state = self.state
        graph = {
            "workflow": state.workflow,
            "nodes": {a: sorted(d) for a, d in self.graph.deps.items()},
            "groups": self.graph.groups,
        }
        state.mlflow_run_id = self.recorder.start_workflow(
            f"{state.workflow} {state.run_id}", {**self._tags(""), "scanflow.kind": "run"}, graph
        )
        failpoints.hit("run.parent")

    def _recover_tracking(self) -> None:
        """Resuming: take up this run's MLflow runs as the store holds them (found by their ``scanflow.run_id``
        tag, so a run a dead driver created but never recorded is found too). The parent and nested-workflow
        runs are opened again. A step run left RUNNING is closed: with its step's recorded result if the step
        had ended (its closing writes died with the driver), KILLED otherwise. A cached step whose run was never
        recorded gets one."""
        assert self.recorder is not None
        state = self.state
        found = self.recorder.inventory(state.run_id)
        if state.mlflow_run_id is None:
            state.mlflow_run_id = next((r["run_id"] for r in found if r["kind"] == "run"), None)
        for r in found:
            if r["kind"] == "workflow" and r["node"]:
                state.mlflow_groups.setdefault(r["node"], r["run_id"])
        if state.mlflow_run_id is None:
            self._start_workflow()
        else:
            self.recorder.reopen_workflow(state.mlflow_run_id, state.mlflow_groups)
        steps = [r for r in found if r["kind"] == "step"]
        running = {r["run_id"] for r in steps if r["status"] in ("RUNNING", "SCHEDULED")}
        cached_runs = {r["node"]: r["run_id"] for r in steps if r["state"] == "cached" and r["node"]}
        for address, rec in self.previous.items():
            node_state = NodeState(rec.state)
            if rec.mlflow_run_id in running and node_state.done:
                running.discard(rec.mlflow_run_id)
                self._close_step_run(address, rec, node_state)
            elif node_state is NodeState.CACHED and rec.mlflow_run_id is None and address in self.graph.nodes:
                if address in cached_runs:
                    rec.mlflow_run_id = cached_runs[address]
                else:
                    self._record_cached(address, rec, self.cache.get(rec.cache_key) if rec.cache_key else None)
        if running:
            self.recorder.mark_stale(sorted(running))
        # A step whose end the dead driver tracked but never recorded in its state runs again: its run is closed
        # as a killed attempt (the tracking journal can be ahead of the state file by a write).
        again = {a for a, r in self.previous.items() if not NodeState(r.state).ok}
        ended = sorted(r["run_id"] for r in steps if r["status"] == "FINISHED" and r["node"] in again)
        if ended:
            self.recorder.supersede(ended)

    def _finish(self, states: dict[str, NodeState]) -> RunResult:
        state = self.state
        try:
            if not states:  # the scheduler itself broke: report, do not hide
                states = {a: NodeState(self._record(a).state) for a in self.graph.nodes}
            state.status = "failed" if self.fatal is not None else _run_status(states)
            if self.recorder is not None:
                try:
                    if state.mlflow_run_id:
                        # Resumed, a nested workflow whose steps had all finished before was opened again with
                        # the parent, and no step of it ran here to close it.
                        self._close_groups(list(self.graph.groups), states)
                        self.recorder.finish_run(state.mlflow_run_id, state.status)
                    self.recorder.close()
                except Exception as exc:  # the run's result stands; the store's trouble is reported
                    self.recorder.failures.append(str(exc))
                for failure in self.recorder.failures:
                    self._publish(Event("log", state.run_id, message=f"MLflow write failed: {failure}"))
                if self.recorder.writer_restarts:
                    self._publish(
                        Event(
                            "log",
                            state.run_id,
                            message=f"the MLflow writer process died {self.recorder.writer_restarts} time(s); it "
                            "was started again and sent every write it had not confirmed",
                        )
                    )
            assert self._state_writer is not None
            failpoints.hit("run.final")
            self._save()
            try:
                self._state_writer.close()
            except StateWriteError as exc:
                self.fatal = self.fatal or exc
                state.status = "failed"
        finally:
            if self.lock is not None:
                self.lock.release()
        errors = {RUN_ERROR: self.fatal, **self.errors} if self.fatal is not None else dict(self.errors)
        self._publish(
            Event("run-finished", state.run_id, state=None, message=state.status, data={"status": state.status})
        )
        return RunResult(state.run_id, state.status, states, state, errors)


# -- public entry points ---------------------------------------------------------------------------
def _prepare(app: Application) -> Path:
    app.validate()
    return app.folder or Path.cwd()


def run(
    app: Application,
    workflow: str | None = None,
    *,
    workers: int = 1,
    force: bool = False,
    params: Mapping[str, Any] | None = None,
    backend: Backend | None = None,
    tracking: bool = True,
    check: bool = True,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[WorkflowRun], None] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Run a workflow of ``app`` and wait for it.

    Parameters
    ----------
    workers: steps that may run at once.
    force: run every step even if its cached result is still valid.
    params: overrides, ``{"step.name": value}`` or ``{"step": {"name": value}}``.
    check: raise the first step's error (``StepFailedError``) if the run fails.
    on_event: called with every event of this run.
    on_start: called with the :class:`WorkflowRun` before it starts (to keep it, e.g. to cancel it from
        another thread).
    run_id: the id of the new run (default: a new one); whoever starts the run in another process (the
        server extension) names it first, to follow it from its first state.

    Example
    -------
    >>> result = run(load("examples/tabular"), workers=2)   # doctest: +SKIP
    >>> result.status                                       # doctest: +SKIP
    'succeeded'
    """
    folder = _prepare(app)
    wf = app.workflow(workflow)
    overrides = resolve_overrides(wf, params)
    state = RunState(
        run_id or new_run_id(),
        app.name,
        str(folder),
        wf.name,
        workers=max(1, workers),
        force=force,
        overrides={a: dict(v) for a, v in overrides.items()},
    )
    bus = EventBus()
    if on_event is not None:
        bus.subscribe(on_event)
    workflow_run = WorkflowRun(app, state, flatten(wf), overrides, backend, tracking, bus)
    if on_start is not None:
        on_start(workflow_run)
    result = workflow_run.execute()
    return result.raise_for_status() if check else result


def latest_run(folder: Path, unfinished: bool = False) -> RunState | None:
    """The newest run (with ``unfinished``, the newest that did not succeed). A newer ``state.json`` that cannot
    be read raises its :class:`CorruptStateError`: an older run is never picked in its place."""
    for candidate in scan_runs(folder, corrupt=[]):
        if isinstance(candidate, CorruptStateError):
            raise candidate
        reconcile(candidate)
        if not unfinished or candidate.status != "succeeded":
            return candidate
    return None


def reconcile(state: RunState, lock: DriverLock | None = None) -> RunState:
    """Notice a run whose driver died: a ``running`` state whose lock nobody holds becomes ``interrupted``, its
    running steps ``cancelled`` (a step that outlived its driver is stopped first). ``lock``: the run's lock,
    if the caller holds it. Returns ``state``, updated in place."""
    if state.status != "running":
        return state
    if lock is None:
        try:
            lock = DriverLock.acquire(state.dir, role="check", wait=0)
        except RunInProgressError:
            return state  # a driver holds it: the run is going
        with lock:
            return _settle_dead(state)
    return _settle_dead(state)


def _settle_dead(state: RunState) -> RunState:
    """With the run's lock held and its driver gone: record it as interrupted."""
    fresh = RunState.load(Path(state.folder), state.run_id)  # the driver may have ended it before letting go
    if fresh.status == "running":
        fresh.status = "interrupted"
        for rec in fresh.nodes.values():
            if rec.pid is not None:  # its step outlived the driver: stop it before anything re-runs it
                stop_process_group(rec.pid, rec.pid_started)
                rec.pid = rec.pid_started = None
            if rec.state in (NodeState.RUNNING, NodeState.QUEUED):
                rec.state = NodeState.CANCELLED.value
                rec.error = "interrupted: the process running it died"
        fresh.save()
    vars(state).update(vars(fresh))
    return state


def _recover_remote(backend: Backend | None, state: RunState) -> None:
    """Resuming on a remote backend: the containers or Jobs the attempts before left (a killed driver's still
    run) are stopped first, found by their labels (``recover(run_id)``; a backend without remote objects has no
    such method), so that no step runs twice at once."""
    recover = getattr(backend, "recover", None)
    if recover is None:
        return
    recover(state.run_id)
    for rec in state.nodes.values():
        rec.remote = None


def resume(
    app: Application,
    run_id: str | None = None,
    *,
    workers: int | None = None,
    backend: Backend | None = None,
    tracking: bool = True,
    check: bool = True,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[WorkflowRun], None] | None = None,
) -> RunResult:
    """Finish a failed, cancelled or killed run: finished steps are reused, the rest run again in the
    same MLflow parent run; the killed attempt's runs are closed. ``run_id`` defaults to the latest unfinished
    run (a newer state that cannot be read is reported, never passed over). ``RunInProgressError`` names the
    process that drives the run if one does."""
    folder = _prepare(app)
    if run_id is None:
        latest = latest_run(folder, unfinished=True)
        if latest is None:
            raise RunNotFoundError(f"Nothing to resume in {folder}: no failed or interrupted run.")
        run_id = latest.run_id
    lock = DriverLock.acquire(RunState.load(folder, run_id).dir)  # RunNotFoundError before any folder is made
    try:
        state = reconcile(RunState.load(folder, run_id), lock)  # read again: the state the last driver left
        if state.status == "succeeded":
            raise RunInProgressError(f"Run {run_id} already succeeded; start a new one with 'scanflow run'.")
        if not same_process(state.pid, state.pid_started):
            # Its driver is gone, but its tracking writer may still be doing what it was sent: let it finish, so
            # what the store holds is complete before this run reads it.
            wait_gone(state.writer_pid, state.writer_started, WRITER_DRAIN_WAIT)
        _recover_remote(backend, state)
        wf = app.workflow(state.workflow)
        overrides = resolve_overrides(wf, state.overrides)
        graph = flatten(wf)
        previous = dict(state.nodes)
        initial = {a: NodeState(r.state) for a, r in state.nodes.items() if a in graph.nodes and NodeState(r.state).ok}
        for address in graph.nodes:
            if address not in initial:
                state.nodes[address] = NodeRecord()
        if workers is not None:
            state.workers = max(1, workers)
        bus = EventBus()
        if on_event is not None:
            bus.subscribe(on_event)
        workflow_run = WorkflowRun(app, state, graph, overrides, backend, tracking, bus, lock, previous)
    except BaseException:
        lock.release()
        raise
    if on_start is not None:
        on_start(workflow_run)
    result = workflow_run.execute(initial)
    return result.raise_for_status() if check else result


def status(app: Application, run_id: str | None = None) -> RunState:
    """The state of a run (the latest by default), noticing a run whose process died."""
    folder = app.folder or Path.cwd()
    if run_id is None:
        latest = latest_run(folder)
        if latest is None:
            raise RunNotFoundError(f"No runs yet in {folder}; start one with 'scanflow run'.")
        return latest
    return reconcile(RunState.load(folder, run_id))
