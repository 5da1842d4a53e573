"""The live graph of a workflow: the Python model of ``labextension/src/widgets/graph.ts``.

The wire protocol (trait names and types, custom messages) is ``labextension/src/widgets/PROTOCOL.md``.
A ``GraphView`` listens to :data:`scanflow_jupyter.engine.global_bus`, so every run of its workflow in this
process colours it live, whoever started the run: the ``%scanflow run`` magic, plain ``sf.run(...)``, or
the view's own Run button. Engine events come from worker threads; assigning a synced trait from a thread
is safe in ipywidgets 8 (the comm message goes out through the kernel's iopub thread).

Example
-------
>>> import scanflow_jupyter as sf
>>> from scanflow_jupyter.notebook import GraphView
>>> view = GraphView(sf.load("examples/tabular"))      # doctest: +SKIP
>>> view                                               # doctest: +SKIP
>>> result = view.run(workers=2)                       # doctest: +SKIP
>>> view.states["modeling/linear"]                     # doctest: +SKIP
'succeeded'
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

from traitlets import Dict, List, Unicode

from ...engine.backend import tail
from ...engine.events import Event, NodeState, global_bus
from ...engine.params_resolve import step_params
from ...engine.state import RunState, runs_dir
from ...errors import CorruptStateError, RunNotFoundError, ScanflowError
from ...tracking.store import redact, resolve_uri
from ...workflow import Application, Executor, Workflow
from .base import MODULE_NAME as MODULE_NAME  # re-exported: the other widgets import it from here
from .base import MODULE_VERSION as MODULE_VERSION
from .base import WorkflowWidget
from .spec import Spec, workflow_tree

if TYPE_CHECKING:
    from ...engine.runner import RunResult, WorkflowRun

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20
MAX_STEP_METRICS = 12  # metrics a step's details show (the run browser has them all)
RUN_STATUSES = ("", "running", "succeeded", "failed", "cancelled")


class StepInfo(TypedDict):
    """One value of the ``info`` trait (per step address)."""

    params: dict[str, str | int | float | bool]
    state: str
    duration: float | None
    log_tail: str
    mlflow_run_id: str | None
    mlflow_url: str | None
    mlflow_store: str | None
    mlflow_experiment_id: str | None
    metrics: dict[str, float]
    error: str | None
    verdict: str | None


class ViewMessage(TypedDict):
    """A custom message from the view: ``{"event": "run"}`` or ``{"event": "cancel"}``."""

    event: Literal["run", "cancel"]


def workflow_spec(app: Application, workflow: Workflow) -> Spec:
    """The ``spec`` of ``workflow``: its tree with every node's kind, address and sibling dependencies."""
    return cast(Spec, workflow_tree(app, workflow))


def mlflow_url(tracking_uri: str | None, experiment_id: str | None, run_id: str | None) -> str | None:
    """A link to a run in the MLflow UI, when the store is an MLflow server (http or https); else None."""
    if not tracking_uri or not experiment_id or not run_id:
        return None
    if not tracking_uri.startswith(("http://", "https://")):
        return None
    base = redact(tracking_uri, keep_user=False)  # a link: no credentials (the browser asks for them)
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def mlflow_store(tracking_uri: str | None) -> str | None:
    """The tracking URI of a store that is not an MLflow server (SQLite, files), redacted, for opening a step's run
    in the run browser; None for a server (its runs link to its UI, :func:`mlflow_url`) or no store."""
    if not tracking_uri or tracking_uri.startswith(("http://", "https://")):
        return None
    return redact(tracking_uri)


def step_metrics(tracking_uri: str | None, run_id: str | None) -> dict[str, float]:
    """The latest value of each metric the step run ``run_id`` logged (the first :data:`MAX_STEP_METRICS` by
    name, without the engine's ``scanflow.*`` ones), read from its store; {} when there is no run or the store
    cannot be read (the details show none)."""
    if not tracking_uri or not run_id:
        return {}
    try:
        from mlflow.tracking import MlflowClient

        metrics = MlflowClient(tracking_uri).get_run(run_id).data.metrics
    except Exception as exc:  # a store gone or unreachable: the rest of the details still show
        log.debug("GraphView: no metrics of %s: %s", run_id, exc)
        return {}
    # The engine's own (scanflow.duration_s, scanflow.exit_code) say what the details show already, in words.
    own = sorted(key for key in metrics if not key.startswith("scanflow."))
    return {key: float(metrics[key]) for key in own[:MAX_STEP_METRICS]}


def log_tail(state: RunState, address: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines a step wrote to stderr, else to stdout ("" if it wrote nothing)."""
    logs = state.log_dir(address)
    return tail(logs / "stderr.txt", lines).strip("\n") or tail(logs / "stdout.txt", lines).strip("\n")


VERDICT = re.compile(r"^(?:NO DRIFT|DRIFT): p = .*$", re.MULTILINE)


def check_verdict(state: RunState, address: str) -> str | None:
    """The drift verdict a checker step printed (its report's first line, "DRIFT: p = 0.0004 (...)"), or None: a
    checker that found drift still succeeds, and the graph must not show it as a plain green success."""
    found = VERDICT.findall(tail(state.log_dir(address) / "stdout.txt", 200))
    return found[-1] if found else None


def _blank(params: Mapping[str, str | int | float | bool]) -> StepInfo:
    return {
        "params": dict(params),
        "state": NodeState.PENDING.value,
        "duration": None,
        "log_tail": "",
        "mlflow_run_id": None,
        "mlflow_url": None,
        "mlflow_store": None,
        "mlflow_experiment_id": None,
        "metrics": {},
        "error": None,
        "verdict": None,
    }


class GraphView(WorkflowWidget):
    """A workflow drawn as a nested graph whose steps take the colour of their state, live.

    Parameters
    ----------
    app: the application.
    workflow: which of its workflows (default: the only one).
    run_options: defaults for runs started from the view (``workers``, ``force``, ``params``,
        ``tracking``), as for :func:`scanflow_jupyter.run`.
    follow_all: show every run of the workflow started in this process, whoever starts it (the default);
        False shows only the runs the view drives (:meth:`run`, :meth:`start`, :meth:`follow`).

    The view listens to the engine's ``global_bus``; :meth:`close` unsubscribes. :meth:`run` runs the
    workflow in the calling thread, :meth:`start` in the background (one at a time), :meth:`cancel` stops
    the run the view drives.

    Example
    -------
    >>> view = GraphView(app, "pipeline")                  # doctest: +SKIP
    >>> view.start(workers=2); view.wait().status          # doctest: +SKIP
    'succeeded'
    """

    _model_name = Unicode("GraphModel").tag(sync=True)
    _view_name = Unicode("GraphView").tag(sync=True)

    spec = Dict(help="The workflow tree (see PROTOCOL.md).").tag(sync=True)
    states = Dict(help="Step address -> state; absent means pending.").tag(sync=True)
    info = Dict(
        help="Step address -> params, state, duration, log_tail, mlflow_run_id, mlflow_url, mlflow_store, "
        "mlflow_experiment_id, metrics, error, verdict."
    ).tag(sync=True)
    collapsed = List(Unicode(), help="Addresses of nested workflows drawn collapsed.").tag(sync=True)
    selected = Unicode("", help="Address of the step whose details are shown.").tag(sync=True)
    run_status = Unicode("", help="'', running, succeeded, failed or cancelled.").tag(sync=True)
    message = Unicode("", help="A line to show (the run id, an error starting a run).").tag(sync=True)
    height = Unicode("420px", help="Largest CSS height of the drawing; a smaller graph takes less room.").tag(sync=True)

    def __init__(
        self,
        app: Application,
        workflow: str | None = None,
        *,
        run_options: Mapping[str, Any] | None = None,
        follow_all: bool = True,
        **kwargs: Any,
    ) -> None:
        wf = app.workflow(workflow)  # an unknown workflow raises here, naming the choices
        self._app = app
        self._workflow = wf.name
        self._follow_all = follow_all
        self._run_options: dict[str, Any] = dict(run_options or {})
        self._lock = threading.RLock()
        self._run_id: str | None = None  # the run the view shows
        self._started: dict[str, float] = {}  # when each step of that run started running
        self._workflow_run: WorkflowRun | None = None  # the run the view drives (cancel stops it)
        self._thread: threading.Thread | None = None
        self._result: RunResult | None = None
        self._unsubscribe: Callable[[], None] | None = None
        # Display ids of this view's outputs (see _ipython_display_), and a lock that keeps an output's first
        # publication ahead of its update.
        self._display_ids: list[str] = []
        self._display_lock = threading.Lock()
        super().__init__(spec=dict(workflow_spec(app, wf)), info=self._blank_info({}), **kwargs)
        self.on_msg(self._on_msg)
        self._unsubscribe = global_bus.subscribe(self._on_event)
        if self.comm is not None and hasattr(self.comm, "on_close"):
            self.comm.on_close(lambda _msg: self._stop_listening())

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def from_run(cls, app: Application, run_id: str, **kwargs: Any) -> GraphView:
        """A view of a past (or still going) run: its workflow, coloured by the states it reached.

        ``RunNotFoundError`` lists the latest runs when there is none by that id.
        """
        from ...engine.runner import reconcile

        state = reconcile(RunState.load(app.folder or Path.cwd(), run_id))
        view = cls(app, state.workflow, **kwargs)
        view._show(state)
        return view

    @property
    def run_id(self) -> str | None:
        """The run shown (None before any)."""
        return self._run_id

    @property
    def running(self) -> bool:
        """True while a run started with :meth:`start` is going."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def result(self) -> RunResult | None:
        """How the last run started with :meth:`start` (or :meth:`run`) ended; None until it ends."""
        return self._result

    @property
    def dot(self) -> str:
        """The DOT text of the graph, coloured by the current states."""
        return str(self._app.plot(self._workflow, dict(self.states)).source)

    def refresh(self) -> None:
        """Redraw from the application (after steps were added or changed); states are kept."""
        with self._lock:
            wf = self._app.workflow(self._workflow)
            leaves = wf.leaves()
            info = self._blank_info({})
            for address, entry in self.info.items():
                if address in leaves:
                    info[address] = cast(StepInfo, {**entry, "params": info[address]["params"]})
            self.spec = dict(workflow_spec(self._app, wf))
            self.info = info
            self.states = {a: s for a, s in self.states.items() if a in leaves}

    # -- running ----------------------------------------------------------------------------------
    def run(self, *, resume: str | None = None, **options: Any) -> RunResult:
        """Run the workflow in this thread, the graph updating live; returns the ``RunResult``.

        ``options`` are those of :func:`scanflow_jupyter.run` (``workers``, ``force``, ``params``,
        ``tracking``) over the view's ``run_options``; with ``resume=RUN_ID`` the failed run is finished
        instead (:func:`scanflow_jupyter.resume`). A failed step does not raise: look at ``result.ok``.
        Bad input raises ``ScanflowError`` before anything runs.
        """
        from ...engine.runner import resume as resume_run
        from ...engine.runner import run as run_workflow

        opts = {**self._run_options, **options}
        try:
            if resume is not None:
                allowed = {k: v for k, v in opts.items() if k in ("workers", "tracking", "backend")}
                result = resume_run(self._app, resume, check=False, on_start=self.follow, **allowed)
            else:
                result = run_workflow(self._app, self._workflow, check=False, on_start=self.follow, **opts)
        finally:
            with self._lock:
                self._workflow_run = None
        self._result = result
        return result

    def start(self, *, resume: str | None = None, **options: Any) -> bool:
        """Start :meth:`run` in a background thread and return at once; False (and a message in the
        view) if a run started here is still going. An error starting the run shows in ``message``."""
        with self._lock:
            if self.running:
                self.message = "A run of this workflow is already going: wait for it to end, or cancel it."
                return False
            self._result = None
            self._thread = threading.Thread(
                target=self._drive, args=(resume, options), name=f"scanflow-graph-{self._workflow}", daemon=True
            )
            self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """Wait for the run started with :meth:`start`; returns its result (None if it could not start
        or is still going after ``timeout`` seconds)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return None
        return self._result

    def cancel(self) -> bool:
        """Stop the run the view drives (started by :meth:`start` or :meth:`run`); False if there is none."""
        with self._lock:
            workflow_run = self._workflow_run
            if workflow_run is None:
                self.message = "No run to cancel: this view is not driving one."
                return False
            self.message = f"Cancelling run {workflow_run.state.run_id}…"
        workflow_run.cancel()  # also before its scheduler exists: the engine cancels as soon as it does
        return True

    def follow(self, workflow_run: WorkflowRun) -> None:
        """Show ``workflow_run`` (and no other run until it ends), and let :meth:`cancel` stop it.

        Pass it as ``on_start`` to :func:`scanflow_jupyter.engine.run` to drive a run yourself.
        """
        with self._lock:
            self._workflow_run = workflow_run
            self._run_id = workflow_run.state.run_id

    def _drive(self, resume: str | None, options: dict[str, Any]) -> None:
        try:
            self.run(resume=resume, **options)
        except ScanflowError as exc:
            self._fail_to_start(str(exc))
        except Exception as exc:  # a bug must show in the view, not vanish with the thread
            log.exception("run of %s/%s failed", self._app.name, self._workflow)
            self._fail_to_start(f"{type(exc).__name__}: {exc}")

    def _fail_to_start(self, text: str) -> None:
        with self._lock:
            self.run_status = "failed"
            self.message = text

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        event = content.get("event") if isinstance(content, dict) else None
        if event == "run":
            self.start()
        elif event == "cancel":
            self.cancel()
        else:
            log.warning("GraphView: unknown message from the view: %r", content)

    # -- following runs ---------------------------------------------------------------------------
    @property
    def _folder(self) -> Path:
        return self._app.folder or Path.cwd()

    def _on_event(self, event: Event) -> None:
        if event.kind == "run-started":
            if self._is_ours(event):
                self._begin(event.run_id)
            return
        if event.run_id != self._run_id:
            return
        if event.kind == "node" and event.node is not None and event.state is not None:
            self._on_node(event.node, event.state, event)
        elif event.kind == "run-finished":
            self._end(event.run_id, str(event.data.get("status") or event.message))
        elif event.kind == "log" and event.message:
            self.message = f"{event.node}: {event.message}" if event.node else event.message

    def _is_ours(self, event: Event) -> bool:
        """A run of this view's workflow, in this application's folder (two apps may share a name)."""
        if event.data.get("app") != self._app.name or event.data.get("workflow") != self._workflow:
            return False
        with self._lock:
            pinned = self._workflow_run
        if pinned is not None:
            if pinned.state.run_id != event.run_id:
                return False  # the view drives another run
        elif not self._follow_all:
            return False
        return (runs_dir(self._folder) / event.run_id / "state.json").is_file()

    def _load(self, run_id: str) -> RunState | None:
        try:
            return RunState.load(self._folder, run_id)
        except (RunNotFoundError, CorruptStateError, OSError, ValueError, TypeError):
            return None

    def _begin(self, run_id: str) -> None:
        state = self._load(run_id)
        with self._lock:
            self._run_id = run_id
            self._started = {}
            wf = self._app.workflow(self._workflow)
            self.spec = dict(workflow_spec(self._app, wf))  # steps may have been added since the view was made
            if state is None:
                info = self._blank_info({})
                states = {a: NodeState.PENDING.value for a in info}
            else:
                info, states = self._from_state(state)
            self.info = info
            self.states = states
            self.run_status = "running"
            self.message = f"run {run_id} started"

    def _on_node(self, address: str, state: NodeState, event: Event) -> None:
        with self._lock:
            entry = dict(self.info.get(address) or _blank({}))
            entry["state"] = state.value
            if state is NodeState.RUNNING:
                self._started[address] = event.time
                entry.update(duration=None, error=None, log_tail="", verdict=None)
            elif state.done:
                run_state = self._load(event.run_id)
                record = run_state.nodes.get(address) if run_state else None
                if record is not None and record.started and record.finished:
                    entry["duration"] = round(record.finished - record.started, 3)
                elif address in self._started:
                    entry["duration"] = round(event.time - self._started[address], 3)
                entry["error"] = event.message or (record.error if record else None) or None
                if run_state is not None:
                    entry["log_tail"] = log_tail(run_state, address)
                    entry["verdict"] = check_verdict(run_state, address)
                    self._add_mlflow(entry, run_state, address)
            self.info = {**self.info, address: entry}
            self.states = {**self.states, address: state.value}

    def _end(self, run_id: str, status: str) -> None:
        state = self._load(run_id)
        with self._lock:
            if state is not None:  # the step runs' MLflow ids of cached steps arrive late; take them all now
                info = dict(self.info)
                for address, entry in info.items():
                    # Metrics too: a run tracked through the journal has them in MLflow once it has ended.
                    if (entry.get("mlflow_run_id") is None or not entry.get("metrics")) and address in state.nodes:
                        fresh = dict(entry)
                        self._add_mlflow(fresh, state, address)
                        info[address] = fresh
                self.info = info
            self.run_status = status if status in RUN_STATUSES else "failed"
            failed = [a for a, s in self.states.items() if s == NodeState.FAILED.value]
            self.message = f"run {run_id} {status}" + (f" ({', '.join(failed)} failed)" if failed else "")
        if not self._follow_all:
            self._update_displays()

    def _show(self, state: RunState) -> None:
        """Show a run read from disk."""
        with self._lock:
            self._run_id = state.run_id
            info, states = self._from_state(state)
            self.info = info
            self.states = states
            if state.status == "interrupted":
                self.run_status = "cancelled"
                self.message = f"run {state.run_id} was interrupted (its process died); resume it to finish it"
            else:
                self.run_status = state.status if state.status in RUN_STATUSES else "failed"
                self.message = f"run {state.run_id} {state.status}"

    def _from_state(self, state: RunState) -> tuple[dict[str, StepInfo], dict[str, str]]:
        info = self._blank_info(state.overrides)
        states: dict[str, str] = {}
        for address, entry in info.items():
            record = state.nodes.get(address)
            if record is None:
                states[address] = NodeState.PENDING.value
                continue
            states[address] = entry["state"] = record.state
            if record.started and record.finished:
                entry["duration"] = round(record.finished - record.started, 3)
            entry["error"] = record.error
            if NodeState(record.state).done or record.state == NodeState.RUNNING.value:
                entry["log_tail"] = log_tail(state, address)
                entry["verdict"] = check_verdict(state, address)
            self._add_mlflow(entry, state, address)
        return info, states

    def _add_mlflow(self, entry: Mapping[str, Any], state: RunState, address: str) -> None:
        record = state.nodes.get(address)
        run_id = record.mlflow_run_id if record else None
        target: dict[str, Any] = entry  # type: ignore[assignment]  # a StepInfo or a copy of one
        uri = self._tracking_uri(state)
        target["mlflow_run_id"] = run_id
        target["mlflow_url"] = mlflow_url(uri, state.experiment_id, run_id)
        target["mlflow_store"] = mlflow_store(uri) if run_id else None
        target["mlflow_experiment_id"] = state.experiment_id if run_id else None
        ended = (NodeState.SUCCEEDED.value, NodeState.FAILED.value, NodeState.CACHED.value)
        done = record is not None and record.state in ended
        target["metrics"] = step_metrics(uri, run_id) if done else {}

    def _tracking_uri(self, state: RunState | None) -> str | None:
        if state is not None and state.tracking_uri:
            return state.tracking_uri  # the run's own store (redacted: enough for a link)
        return resolve_uri(self._app)

    def _blank_info(self, overrides: Mapping[str, Any]) -> dict[str, StepInfo]:
        info: dict[str, StepInfo] = {}
        for address, node in self._app.workflow(self._workflow).leaves().items():
            params: dict[str, str | int | float | bool] = {}
            if isinstance(node, Executor):
                try:
                    params = step_params(node, overrides.get(address, {}))
                except ValueError:  # a bad default: validation reports it, the view shows the rest
                    params = node.defaults()
            info[address] = _blank(params)
        return info

    # -- closing and display ----------------------------------------------------------------------
    def _stop_listening(self) -> None:
        unsubscribe = getattr(self, "_unsubscribe", None)
        self._unsubscribe = None
        if unsubscribe is not None:
            unsubscribe()

    def close(self) -> None:
        """Stop following runs and close the widget (its views disappear)."""
        self._stop_listening()
        super().close()

    def _text(self) -> str:
        head = f"{self._app.name} / {self._workflow}"
        if self._run_id:
            head += f" (run {self._run_id}: {self.run_status or 'not started'})"
        lines = [head]
        for address, entry in self.info.items():
            state = self.states.get(address, NodeState.PENDING.value)
            took = f"{entry['duration']:.1f} s" if entry.get("duration") is not None else ""
            error = (entry.get("error") or "").splitlines()
            lines.append(f"  {address:<28} {state:<10} {took:>8}  {error[0] if error else ''}".rstrip())
        return "\n".join(lines)

    def _ipython_display_(self) -> None:
        # Shown with a display id, so that the output can be replaced when the run ends: a saved notebook opened
        # where the widget cannot render (nbviewer, GitHub, nbconvert, no kernel) then shows the final states in its
        # text, not the pending ones of the moment the view was displayed.
        from IPython.display import display

        display_id = uuid.uuid4().hex
        with self._display_lock:
            self._display_ids.append(display_id)
            data = self._repr_mimebundle_()
            if data is not None:
                display(data, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]

    def _update_displays(self) -> None:
        """Replace this view's outputs with its current representation (the widget and its text).

        Done when the one run a view shows ends (a view of ``%scanflow run`` or ``resume``), not for views that
        follow every run: in JupyterLab each update draws the widget anew (the old view stays hidden), which
        is cheap once per run cell but would pile up under a ``%scanflow plot`` that watches many runs.
        """
        with self._display_lock:
            if not self._display_ids:
                return
            from IPython.display import update_display

            data = self._repr_mimebundle_()
            if data is None:
                return
            for display_id in self._display_ids:
                try:
                    update_display(data, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]
                except Exception:  # an engine thread must not die of a display problem
                    log.exception("GraphView: could not update output %s", display_id)

    def __repr__(self) -> str:
        return f"GraphView(app={self._app.name!r}, workflow={self._workflow!r}, run_status={self.run_status!r})"
