"""The seam every deployment backend stands on: the :class:`Deployment` protocol (build, start, run, serve,
status, stop, cleanup, export, tracker_uri), and what its methods take and give on every backend.

- one progress event, :class:`DeployEvent`: an image built or pushed, an object applied, a stack deployed;
  ``build``, ``start`` and ``serve`` report through ``on_event``, ``run`` through ``on_progress`` (its
  ``on_event`` is the engine's, one :class:`~scanflow_jupyter.engine.events.Event` per step change);
- one result of a run: the engine's :class:`~scanflow_jupyter.engine.runner.RunResult`, whoever drove it (the
  engine's scheduler or Argo);
- one status, :class:`DeployStatus` (what the application has on the backend, found by label), and one
  :class:`Endpoint` (a served model);
- the engine's twin of the application (:func:`engine_twin`: tracked by the deployment's tracker, each step
  stamped with what makes its result the backend's own) and the lookup of a service node (:func:`find_service`).

``DockerApp`` and ``KubernetesApp`` satisfy the protocol structurally (checked by mypy and by
``tests/deploy/test_base.py``); callers that work on any backend (the deploy panel, ``%scanflow deploy``) type
their deployment with it. A backend may do more (Docker's compose files, Kubernetes' logs and cancel).

Example
-------
>>> status = DeployStatus("tabular", "Docker", objects=[Deployed("volume", "scanflow-tabular-work")])
>>> print(status)
application 'tabular' on Docker:
  volume scanflow-tabular-work
>>> status.names("volume")
['scanflow-tabular-work']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BackendError
from ..workflow import Application, Executor, Service, Tracker, Workflow, flatten

if TYPE_CHECKING:
    from ..engine.events import Event
    from ..engine.runner import RunResult

__all__ = [
    "DeployEvent",
    "DeployStatus",
    "Deployed",
    "Deployment",
    "Endpoint",
    "OnLog",
    "OnProgress",
    "engine_twin",
    "find_service",
]


@dataclass(frozen=True)
class DeployEvent:
    """One line of a deployment's progress. An image's: ``image`` and ``node`` set, ``status`` one of
    building, cached (already there), built, failed, pushed, and ``step``/``total`` counting the Dockerfile's
    instructions while building. Any other (an object applied, a stack deployed): ``status`` ``progress``."""

    image: str = ""
    node: str = ""
    line: str = ""
    step: int = 0
    total: int = 0
    status: str = "building"

    @classmethod
    def progress(cls, line: str, node: str = "") -> DeployEvent:
        """A line about the deployment itself (not an image's build)."""
        return cls(node=node, line=line, status="progress")


OnProgress = Callable[[DeployEvent], None]
OnLog = Callable[[str, str, str], None]  # (step address, stream, line)


@dataclass(frozen=True)
class Deployed:
    """One object an application has on a backend: its kind (``container``, ``image``, ``volume``, ``network``,
    ``swarm service`` on Docker; the object's kind on Kubernetes), name, a word on its state, and, where the
    backend labels it so, its role (tracker, service, step...) and node."""

    kind: str
    name: str
    status: str = ""
    role: str = ""
    node: str = ""

    def __str__(self) -> str:
        what = self.role + (f" {self.node}" if self.node not in ("", self.role) else "")
        return f"{self.kind} {self.name}" + (f" ({what})" if what else "") + (f": {self.status}" if self.status else "")


@dataclass
class DeployStatus:
    """What an application has on a backend (``where``: the namespace, say), found by label; also what a
    clean-up removed."""

    app: str
    backend: str
    where: str = ""
    objects: list[Deployed] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.objects

    def of(self, kind: str) -> list[Deployed]:
        return [o for o in self.objects if o.kind == kind]

    def names(self, kind: str) -> list[str]:
        return [o.name for o in self.of(kind)]

    def __str__(self) -> str:
        lines = [f"application {self.app!r} on {self.backend}" + (f" ({self.where})" if self.where else "") + ":"]
        lines += [f"  {o}" for o in self.objects]
        if self.empty:
            lines.append("  nothing")
        return "\n".join(lines)


@dataclass(frozen=True)
class Endpoint:
    """A served model: its service node's address, what serves it (a container, a Deployment), its URL and
    port (as this machine reaches it on Docker; in the cluster on Kubernetes)."""

    service: str
    name: str
    url: str
    port: int


class Deployment(Protocol):
    """An application on a backend. Every method may take more keywords on one backend (Docker's ``publish``,
    Kubernetes' ``engine``); what is here takes the same arguments and gives the same types everywhere."""

    app: Application
    name: str

    def build(self, workflows: Iterable[str] | None = None, on_event: OnProgress | None = None) -> dict[str, str]:
        """Build (and push, for a cluster) the images of ``workflows`` (all by default); ``{node: image}``."""
        ...

    def start(self, on_event: OnProgress | None = None) -> str:
        """Bring up what runs need (network or namespace, volumes, the tracker); returns the tracker's URI."""
        ...

    def run(
        self,
        workflow: str | None = None,
        *,
        workers: int = 1,
        force: bool = False,
        params: Mapping[str, Any] | None = None,
        check: bool = True,
        on_event: Callable[[Event], None] | None = None,
        on_progress: OnProgress | None = None,
        on_log: OnLog | None = None,
        tracking: bool = True,
    ) -> RunResult:
        """Run a batch workflow to its end (``check``: raise its first error if it failed)."""
        ...

    def serve(self, service: str, *, on_event: OnProgress | None = None, timeout: float = ...) -> Endpoint:
        """Serve a Service node's model and wait until it is ready."""
        ...

    def status(self) -> DeployStatus: ...

    def stop(self) -> list[str]:
        """Stop the running workloads (tracker, services); what the runs wrote stays. The names stopped."""
        ...

    def cleanup(self) -> DeployStatus:
        """Remove everything the application created on the backend, and nothing else; what was removed."""
        ...

    def export(self, path: str | Path | None = None) -> str:
        """The files another tool deploys it with (compose file, manifests); written to ``path`` if given."""
        ...

    def tracker_uri(self) -> str | None:
        """The tracker as this machine reaches it, or None when it is not running."""
        ...


def find_service(app: Application, name: str) -> tuple[str, Service]:
    """The address and node of the service ``name`` (an address or a node's name) of ``app``."""
    found = [(a, n) for wf in app.workflows for a, n in Workflow.leaves(wf).items() if isinstance(n, Service)]
    for address, node in found:
        if name in (address, node.name):
            return address, node
    raise BackendError(
        f"No service {name!r} in application {app.name!r}; its services: {', '.join(a for a, _ in found) or 'none'}. "
        "Add a node with a model_uri to an online workflow."
    )


def engine_twin(
    app: Application, workflow: str, tracker_uri: str | None, stamp: Callable[[str], Mapping[str, str]]
) -> tuple[Application, dict[str, Executor]]:
    """The copy of ``app`` the engine runs on a backend, and its executors by address: tracked by the
    deployment's tracker (``tracker_uri``; None keeps the application's), and each executor's ``env`` given
    ``stamp(address)`` (the image, the volumes or the cluster), which enters its cache key: a local result is
    never reused for a backend's run, nor one of another image."""
    twin = app.model_copy(deep=True)
    twin.folder = app.folder
    if tracker_uri is not None:
        twin.tracker = Tracker(uri=tracker_uri, experiment=app.tracker.experiment if app.tracker else None)
    executors: dict[str, Executor] = {}
    for address, node in flatten(twin.workflow(workflow)).nodes.items():
        if isinstance(node, Executor):
            node.env.update(stamp(address))
            executors[address] = node
    return twin, executors
