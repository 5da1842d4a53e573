"""A workflow run: validation, run state, caching, tracking and the backend wired around the scheduler.

``run`` starts a new run, ``resume`` finishes a failed or killed one, ``status`` reports on one (and
notices a run whose process died). All three are what the CLI and the notebook call.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RunInProgressError, RunNotFoundError, ScanflowError, StepFailedError, StepTimeoutError
from ..workflow import Application, Executor, FlatGraph, flatten
from ..workflow.dot import group_state
from ..workflow.params import ParamValue
from .backend import Backend, Outcome, Task, tail
from .cache import Cache, node_key, output_digests
from .events import Event, EventBus, NodeState, global_bus
from .local import LocalBackend
from .params_resolve import requirements_of, resolve_overrides, step_argv, step_command, step_params
from .scheduler import Scheduler
from .state import (
    NodeRecord,
    RunState,
    list_runs,
    new_run_id,
    process_start_time,
    scanflow_dir,
    stop_process_group,
)
from .venvs import ensure_venv

if TYPE_CHECKING:  # keeps MLflow out of import time
    from ..tracking import RunRecorder


@dataclass
class RunResult:
    """How a run ended. ``states`` maps step addresses to their final state."""

    run_id: str
    status: str
    states: dict[str, NodeState]
    state: RunState = field(repr=False)
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
    """One run (or one resumption) of a workflow. Use :func:`run` and :func:`resume` rather than this."""

    def __init__(
        self,
        app: Application,
        state: RunState,
        graph: FlatGraph,
        overrides: dict[str, dict[str, ParamValue]],
        backend: Backend | None = None,
        tracking: bool = True,
        bus: EventBus | None = None,
    ) -> None:
        self.app = app
        self.folder = Path(state.folder)
        self.state = state
        self.graph = graph
        self.overrides = overrides
        self.backend: Backend = backend or LocalBackend()
        self.bus = bus or EventBus()
        self.cache = Cache(scanflow_dir(self.folder) / "cache")
        self.recorder: RunRecorder | None = None
        self.tracking = tracking
        self.errors: dict[str, ScanflowError] = {}
        self._handles: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._keys: dict[str, str] = {}
        self._outputs: dict[str, dict[str, str]] = {}
        self._finished_groups: set[str] = set()
        self.scheduler: Scheduler | None = None
        self._done = threading.Event()
        self._cancel_requested = False

    # -- events and state ---------------------------------------------------------------------
    def _publish(self, event: Event) -> None:
        self.bus.publish(event)
        global_bus.publish(event)

    def _record(self, address: str) -> NodeRecord:
        return self.state.nodes.setdefault(address, NodeRecord())

    def _on_state(self, address: str, state: NodeState, info: dict[str, Any]) -> None:
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
                rec.attempts = info.get("attempts", rec.attempts)
                rec.finished = info.get("finished", time.time())
                if not outcome.ok:
                    rec.error = self._describe(outcome)
                    self.errors[address] = self._error(address, outcome)
            if state is NodeState.SKIPPED:
                rec.error = info.get("reason")
            if state is not NodeState.RUNNING:  # a running step is saved once its process exists (_attempt)
                self.state.save()
            self._publish(Event("node", self.state.run_id, address, state, rec.error or "", data=dict(info)))
            if state is NodeState.SUCCEEDED:
                self._remember(address)
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
            upstream = {
                dep: {"key": self._keys.get(dep) or self._record(dep).cache_key, "outputs": self._outputs.get(dep, {})}
                for dep in self.graph.deps[address]
            }
            argv = step_command(node, self._params(address))
            self._keys[address] = node_key(self.app, node, argv, upstream)
            self._record(address).cache_key = self._keys[address]
        return self._keys[address]

    def _try_cache(self, address: str) -> bool:
        node = self.graph.nodes[address]
        key = self._key(address)
        if self.state.force or key is None or not isinstance(node, Executor) or not node.cache:
            return False
        hit = self.cache.get(key)
        if hit is None:
            return False
        outputs = output_digests(self.folder, node)
        if outputs != hit.get("outputs", {}):
            return False  # a declared output changed or vanished since: run again
        self._outputs[address] = outputs
        rec = self._record(address)
        rec.cached_from = hit.get("run_id")
        if self.recorder is not None and self.state.mlflow_run_id:
            future = self.recorder.record_cached(
                self.state.mlflow_run_id,
                address,
                self._tags(address),
                self.state.mlflow_groups,
                hit.get("mlflow_run_id"),
                self._params(address),
            )

            def keep_id(f: Future[str], rec: NodeRecord = rec) -> None:
                rec.mlflow_run_id = None if f.exception() else f.result()

            future.add_done_callback(keep_id)
        return True

    def _remember(self, address: str) -> None:
        node = self.graph.nodes[address]
        key = self._key(address)
        if key is None or not isinstance(node, Executor):
            return
        self._outputs[address] = output_digests(self.folder, node)
        self.cache.put(
            key,
            {
                "address": address,
                "run_id": self.state.run_id,
                "outputs": self._outputs[address],
                "mlflow_run_id": self._record(address).mlflow_run_id,
                "finished": time.time(),
            },
        )

    # -- running a step -------------------------------------------------------------------------
    def _params(self, address: str) -> dict[str, ParamValue]:
        node = self.graph.nodes[address]
        assert isinstance(node, Executor)
        return step_params(node, self.overrides.get(address, {}))

    def _tags(self, address: str) -> dict[str, str]:
        return {
            "scanflow.run_id": self.state.run_id,
            "scanflow.app": self.app.name,
            "scanflow.workflow": self.state.workflow,
        }

    def _hand_run_id(self, address: str, rec: NodeRecord, fd: int) -> None:
        """Create the step's MLflow run and hand its id to the waiting launcher. If that fails, the
        launcher gets nothing, exits without running the step, and the error is the step's."""
        assert self.recorder is not None and self.state.mlflow_run_id is not None
        try:
            rec.mlflow_run_id = self.recorder.start_node(
                self.state.mlflow_run_id, address, self._tags(address), self.state.mlflow_groups
            )
            os.write(fd, rec.mlflow_run_id.encode())
        finally:
            os.close(fd)

    def _attempt(self, address: str, attempt: int) -> Outcome:
        node = self.graph.nodes[address]
        if not isinstance(node, Executor):
            return Outcome(None, error="services run with 'scanflow deploy', not in a batch run")
        rec = self._record(address)
        env = {
            **os.environ,
            **node.env,
            "PYTHONUNBUFFERED": "1",
            "SCANFLOW_RUN_ID": self.state.run_id,
            "SCANFLOW_NODE": address,
        }
        if node.function is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.folder), env.get("PYTHONPATH")]))
        # With tracking, the step starts at once and the launcher waits for its MLflow run id on a pipe:
        # creating the run overlaps the step's interpreter start-up (see launch.py).
        pipe: tuple[int, int] | None = None
        if self.recorder is not None and self.state.mlflow_run_id:
            from ..tracking.store import tracking_env

            env.update(tracking_env(self.recorder.config.uri))  # a password in the URI: in variables of its own
            env["MLFLOW_EXPERIMENT_ID"] = self.recorder.experiment_id
            env.pop("MLFLOW_RUN_ID", None)
            if attempt == 1 or rec.mlflow_run_id is None:
                pipe = os.pipe()
                env["SCANFLOW_RUN_ID_FD"] = str(pipe[0])
            else:
                env["MLFLOW_RUN_ID"] = rec.mlflow_run_id
        python = sys.executable
        if node.isolated:
            python = str(
                ensure_venv(
                    scanflow_dir(self.folder) / "venvs",
                    requirements_of(self.app, node),
                    lambda m: self._publish(Event("log", self.state.run_id, address, message=m)),
                )
            )
        logs = self.state.log_dir(address)
        task = Task(
            self.state.run_id,
            address,
            step_argv(node, self._params(address), python),
            self.folder,
            env,
            logs / "stdout.txt",
            logs / "stderr.txt",
            node.timeout,
            attempt,
            pass_fds=(pipe[0],) if pipe else (),
        )
        try:
            handle = self.backend.submit(task)
        finally:
            if pipe:
                os.close(pipe[0])
        if pipe:
            self._hand_run_id(address, rec, pipe[1])
        with self._lock:
            self._handles[address] = handle
            rec.pid = getattr(handle, "pid", None)
            rec.pid_started = process_start_time(rec.pid) if rec.pid else None
            self.state.save()
        if self.scheduler is not None and self.scheduler.cancelled:
            self.backend.cancel(handle)
        try:
            return self.backend.wait(handle)
        finally:
            with self._lock:
                self._handles.pop(address, None)
                rec.pid = rec.pid_started = None

    # -- tracking -------------------------------------------------------------------------------
    def _close_tracking(self, address: str, state: NodeState, outcome: Outcome | None) -> None:
        rec = self._record(address)
        if self.recorder is not None and rec.mlflow_run_id and state is not NodeState.CACHED and outcome is not None:
            node = self.graph.nodes[address]
            metrics: dict[str, float] = {"scanflow.duration_s": outcome.duration}
            if outcome.exit_code is not None:
                metrics["scanflow.exit_code"] = float(outcome.exit_code)
            logs = self.state.log_dir(address)
            self.recorder.finish_node(
                rec.mlflow_run_id,
                state.value,
                self._params(address) if isinstance(node, Executor) else {},
                metrics,
                {
                    "scanflow.state": state.value,
                    "scanflow.attempts": str(rec.attempts),
                    "scanflow.cache_key": rec.cache_key or "",
                },
                {"stdout": logs / "stdout.txt", "stderr": logs / "stderr.txt"},
            )
        # A nested workflow's run closes when every step inside it is done.
        if self.recorder is None:
            return
        assert self.scheduler is not None
        for group in self.graph.groups_of(address):
            if group in self._finished_groups:
                continue
            inside = [self.scheduler.states[a] for a in self.graph.groups[group]]
            if all(s.done for s in inside):
                self._finished_groups.add(group)
                verdict = group_state([s.value for s in inside])
                assert self.state.mlflow_run_id is not None
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

    def execute(self, initial: Mapping[str, NodeState] | None = None, stale: list[str] | None = None) -> RunResult:
        """Drive the run to its end in this thread; Ctrl-C cancels it cleanly."""
        state = self.state
        if self.tracking:  # first, so an unreachable store leaves nothing behind on disk
            self._open_tracking(stale or [])
        state.claim()
        state.status = "running"
        for address in self.graph.nodes:
            rec = self._record(address)
            if not (initial and address in initial):
                rec.state = NodeState.PENDING.value
        state.save()
        self._publish(
            Event(
                "run-started",
                state.run_id,
                data={"workflow": state.workflow, "app": self.app.name, "nodes": list(self.graph.nodes)},
            )
        )
        self.scheduler = Scheduler(self.graph, self._attempt, self._on_state, state.workers, initial, self._try_cache)
        if self._cancel_requested:  # cancelled while tracking was opening
            self.scheduler.cancel()
        result: dict[str, NodeState] = {}

        def drive() -> None:
            try:
                result.update(self.scheduler.run())  # type: ignore[union-attr]
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

    def _open_tracking(self, stale: list[str]) -> None:
        from ..tracking import RunRecorder, resolve
        from ..tracking.store import redact

        self.recorder = RunRecorder(resolve(self.app))
        state = self.state
        # Shown (state.json, the graph's links), never used to connect: resume resolves the store again.
        state.tracking_uri, state.experiment_id = redact(self.recorder.config.uri), self.recorder.experiment_id
        if stale:
            self.recorder.mark_stale(stale)
        # Steps that finished before the driver died may not have had their run closed (the closing writes
        # were still queued): they succeeded, so they become FINISHED.
        done = [r.mlflow_run_id for r in state.nodes.values() if r.mlflow_run_id and NodeState(r.state).ok]
        if done and state.mlflow_run_id is not None:  # a resumed run
            self.recorder.mark_stale(done, status="FINISHED")
        if state.mlflow_run_id is None:
            graph = {
                "workflow": state.workflow,
                "nodes": {a: sorted(d) for a, d in self.graph.deps.items()},
                "groups": self.graph.groups,
            }
            state.mlflow_run_id = self.recorder.start_workflow(
                f"{state.workflow} {state.run_id}", {**self._tags(""), "scanflow.kind": "run"}, graph
            )
        else:
            self.recorder.reopen_workflow(state.mlflow_run_id, state.mlflow_groups)

    def _finish(self, states: dict[str, NodeState]) -> RunResult:
        state = self.state
        if not states:  # the scheduler itself broke: report, do not hide
            states = {a: NodeState(self._record(a).state) for a in self.graph.nodes}
        state.status = _run_status(states)
        if self.recorder is not None:
            if state.mlflow_run_id:
                self.recorder.finish_run(state.mlflow_run_id, state.status)
            self.recorder.close()
            for failure in self.recorder.failures:
                self._publish(Event("log", state.run_id, message=f"MLflow write failed: {failure}"))
        state.save()
        self._publish(
            Event("run-finished", state.run_id, state=None, message=state.status, data={"status": state.status})
        )
        return RunResult(state.run_id, state.status, states, state, dict(self.errors))


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
        new_run_id(),
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
    for candidate in list_runs(folder):
        reconcile(candidate)
        if not unfinished or candidate.status != "succeeded":
            return candidate
    return None


def reconcile(state: RunState) -> RunState:
    """Notice a run whose driving process died: it becomes ``interrupted`` and its running steps
    ``cancelled``. Returns the (maybe updated) state."""
    if state.status == "running" and not state.alive:
        state.status = "interrupted"
        for rec in state.nodes.values():
            if rec.pid is not None:  # its step outlived the driver: stop it before anything re-runs it
                stop_process_group(rec.pid, rec.pid_started)
                rec.pid = rec.pid_started = None
            if rec.state in (NodeState.RUNNING, NodeState.QUEUED):
                rec.state = NodeState.CANCELLED.value
                rec.error = "interrupted: the process running it died"
        state.save()
    return state


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
    same MLflow parent run; the killed attempt's runs are marked KILLED. ``run_id`` defaults to the
    latest unfinished run."""
    folder = _prepare(app)
    if run_id is None:
        latest = latest_run(folder, unfinished=True)
        if latest is None:
            raise RunNotFoundError(f"Nothing to resume in {folder}: no failed or interrupted run.")
        run_id = latest.run_id
    state = reconcile(RunState.load(folder, run_id))
    if state.alive:
        raise RunInProgressError(
            f"Run {run_id} is still going (process {state.pid}); wait for it or stop it before resuming."
        )
    if state.status == "succeeded":
        raise RunInProgressError(f"Run {run_id} already succeeded; start a new one with 'scanflow run'.")
    wf = app.workflow(state.workflow)
    overrides = resolve_overrides(wf, state.overrides)
    graph = flatten(wf)
    initial = {a: NodeState(r.state) for a, r in state.nodes.items() if a in graph.nodes and NodeState(r.state).ok}
    stale = [r.mlflow_run_id for a, r in state.nodes.items() if a not in initial and r.mlflow_run_id]
    for address in graph.nodes:
        if address not in initial:
            state.nodes[address] = NodeRecord()
    if workers is not None:
        state.workers = max(1, workers)
    bus = EventBus()
    if on_event is not None:
        bus.subscribe(on_event)
    workflow_run = WorkflowRun(app, state, graph, overrides, backend, tracking, bus)
    if on_start is not None:
        on_start(workflow_run)
    result = workflow_run.execute(initial, stale)
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
