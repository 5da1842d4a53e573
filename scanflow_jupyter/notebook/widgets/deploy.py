"""The deploy panel: the Python model of ``labextension/src/widgets/deploy.ts``.

One panel per application and backend. Its buttons (build, start, run, stop, clean up) send an ``action``
message; the work runs in a thread and the panel follows it: a phase, a progress bar (build steps, then
finished steps), each image's and each step's state, and the last lines of the steps' logs, live.
``%scanflow deploy ACTION`` drives the same panel from the kernel (synchronously, so a notebook run top to
bottom waits for it).

Example
-------
>>> from scanflow_jupyter.deploy.docker import DockerApp
>>> panel = DeployPanel(DockerApp(app))     # doctest: +SKIP
>>> panel.perform("run", workers=2)         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, TypedDict

from traitlets import Dict, Int, List, Unicode

from ...errors import ScanflowError
from ...tracking.store import redact
from .base import ScanflowWidget

if TYPE_CHECKING:
    from ...deploy.base import DeployEvent, Deployment
    from ...engine.events import Event

__all__ = ["DeployPanel"]

MAX_LOG_LINES = 400
ACTIONS = ("build", "start", "run", "stop", "cleanup", "status")


class LogLine(TypedDict):
    """One value of the ``logs`` trait."""

    node: str
    stream: str
    line: str


class DeployPanel(ScanflowWidget):
    """Build, start, run, stop and clean up an application on a backend, with progress and live logs.

    Parameters
    ----------
    deployment
        Any :class:`~scanflow_jupyter.deploy.base.Deployment`: a ``DockerApp``, a ``KubernetesApp``.
    workflow
        The workflow the ``run`` button runs (default: the only one).
    """

    _model_name = Unicode("DeployPanelModel").tag(sync=True)
    _view_name = Unicode("DeployPanelView").tag(sync=True)

    app = Unicode(help="The application's name.").tag(sync=True)
    backend = Unicode("docker").tag(sync=True)
    phase = Unicode("idle", help="idle, building, starting, running, stopping, cleaning, done, failed").tag(sync=True)
    action = Unicode("", help="The action under way or last done.").tag(sync=True)
    done = Int(0, help="Progress: units done (build instructions, then finished steps).").tag(sync=True)
    total = Int(0, help="Progress: units in all (0: unknown).").tag(sync=True)
    images = Dict(help="node -> {image, status}").tag(sync=True)
    nodes = Dict(help="step address -> state").tag(sync=True)
    logs = List(Dict(), help="The last log lines: {node, stream, line}, oldest first.").tag(sync=True)
    message = Unicode("", help="A one-line summary of the last action.").tag(sync=True)
    error = Unicode("", help="The last action's error, as the user should read it.").tag(sync=True)
    tracker = Unicode("", help="The tracker's URI from this machine, once started.").tag(sync=True)

    def __init__(self, deployment: Deployment, workflow: str | None = None, **kwargs: Any) -> None:
        super().__init__(app=deployment.name, **kwargs)
        self.deployment = deployment
        self.workflow = workflow
        self.result: Any = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.on_msg(self._on_message)

    # -- the front end's buttons ---------------------------------------------------------------------
    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        action = content.get("action")
        if action not in ACTIONS or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._quietly, args=(action,), daemon=True, name=f"deploy-{action}")
        self._thread.start()

    def _quietly(self, action: str) -> None:
        with contextlib.suppress(ScanflowError):  # shown in the panel (the error trait)
            self.perform(action)

    # -- doing it ------------------------------------------------------------------------------------
    def perform(self, action: str, **options: Any) -> Any:
        """Do ``action`` (build, start, run, stop, cleanup, status) here and now, following it in the panel;
        returns what the deployment returned. Errors are shown in the panel and raised."""
        if action not in ACTIONS:
            raise ScanflowError(f"Unknown deploy action {action!r}; choose one of: {', '.join(ACTIONS)}.")
        self.action, self.error, self.message, self.done, self.total = action, "", "", 0, 0
        d = self.deployment
        try:
            if action == "build":
                self.phase = "building"
                self.result = d.build(on_event=self._on_progress, **options)
                self.message = f"{len(self.result)} image(s) ready"
            elif action == "start":
                self.phase = "starting"
                self.result = d.start(on_event=self._on_progress)
                self.tracker = redact(self.result or "", keep_user=False)  # a link: no credentials
                self.message = f"tracker at {self.tracker}"
            elif action == "run":
                self.phase = "running"
                self.nodes, self.logs = {}, []
                options.setdefault("workflow", self.workflow)
                self.result = d.run(
                    on_progress=self._on_progress, on_event=self._on_event, on_log=self._on_log, check=False, **options
                )
                self.tracker = redact(d.tracker_uri() or "", keep_user=False)
                self.message = f"run {self.result.run_id} {self.result.status}"
                if not self.result.ok:
                    errors = list(self.result.errors.values())
                    self.error = str(errors[0]) if errors else self.message
            elif action == "stop":
                self.phase = "stopping"
                self.result = d.stop()
                self.message = f"stopped {len(self.result)} container(s)"
            elif action == "cleanup":
                self.phase = "cleaning"
                self.result = d.cleanup(**options)
                self.message = "removed everything the application created"
            else:
                self.result = d.status()
                self.message = str(self.result)
        except ScanflowError as exc:
            self.phase, self.error = "failed", str(exc)
            raise
        self.phase = "failed" if self.error else "done"
        return self.result

    def _on_progress(self, event: DeployEvent) -> None:
        with self._lock:
            if event.status == "progress":  # not an image's: an object applied, a workflow submitted
                self._append(event.node, "deploy", event.line)
                return
            images = dict(self.images)
            images[event.node] = {"image": event.image, "status": event.status}
            self.images = images
            if event.total:
                self.done, self.total = event.step, event.total
            if event.status == "building" and (event.line.startswith("Step ") or event.line.startswith("ERROR")):
                self._append(event.node, "build", event.line)

    def _on_event(self, event: Event) -> None:
        if event.kind != "node" or event.node is None or event.state is None:
            return
        with self._lock:
            nodes = dict(self.nodes)
            nodes[event.node] = event.state.value
            self.nodes = nodes
            self.total = len(nodes) if self.phase != "running" else max(self.total, len(nodes))
            self.done = sum(1 for s in nodes.values() if s in ("succeeded", "failed", "skipped", "cached", "cancelled"))

    def _on_log(self, node: str, stream: str, line: str) -> None:
        with self._lock:
            self._append(node, stream, line)

    def _append(self, node: str, stream: str, line: str) -> None:
        entry: LogLine = {"node": node, "stream": stream, "line": line}
        self.logs = [*self.logs[-(MAX_LOG_LINES - 1) :], dict(entry)]

    def __repr__(self) -> str:  # what a notebook without the front end shows
        head = f"DeployPanel({self.app!r} on {self.backend}: {self.phase}"
        head += f", {self.action}" if self.action else ""
        head += f" - {self.message})" if self.message else ")"
        steps = "".join(f"\n  {a}: {s}" for a, s in self.nodes.items())
        return head + steps + (f"\n  error: {self.error}" if self.error else "")
