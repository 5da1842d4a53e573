"""An application as a stack on this engine's swarm: the third target of the
:class:`~scanflow_jupyter.deploy.base.Deployment` protocol, beside ``DockerApp`` and ``KubernetesApp``.

The stack is the tracker and the online services with their replicas (:func:`.compose.stack_file`), deployed with
``docker stack deploy`` by :meth:`.app.DockerApp.deploy_swarm`; the images are the Docker backend's. Batch
workflows are not a swarm's to run (a swarm service restarts what ends): ``run`` says so and names the Docker
backend, whose tracker keeps the same volumes, so what it tracks and registers the stack serves.

Example
-------
>>> swarm = SwarmApp(load("examples/tabular"), base_image="scanflow/debian-python:bookworm")  # doctest: +SKIP
>>> swarm.start()                   # build, deploy the stack, wait for its replicas            # doctest: +SKIP
'http://tracker:5000'
>>> print(swarm.status())           # its swarm services with their replicas, volumes, network  # doctest: +SKIP
>>> swarm.stop()                    # the stack's services removed; the volumes stay             # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import BackendError
from ...workflow import Application
from ..base import Deployed, DeployEvent, Deployment, DeployStatus, Endpoint, OnLog, OnProgress, find_service
from ..tracker import TRACKER_PORT
from .app import SERVICE_START_TIMEOUT, DockerApp
from .client import app_filter, publish_keyword

if TYPE_CHECKING:
    from ...engine.events import Event
    from ...engine.runner import RunResult

__all__ = ["SwarmApp"]


class SwarmApp:
    """An application deployed as a swarm stack on the local engine (which must be a swarm manager).

    Parameters
    ----------
    app: the application (loaded from its folder).
    publish: ``"0.0.0.0"`` to publish the services' ports on every interface of their nodes; None (the
        default): no port, the services are reached on the stack's network (a swarm cannot bind one address).
    stack_path: where the stack file is written for ``docker stack deploy``; default ``.scanflow/stack.yaml``
        in the application's folder.
    docker: options of the Docker backend that builds the images (``base_image``, ``ca_bundle``, ``client``...).
    """

    backend = "swarm"

    def __init__(
        self,
        app: Application,
        *,
        publish: str | None = None,
        stack_path: str | Path | None = None,
        **docker: Any,
    ) -> None:
        self.app = app
        self.engine = DockerApp(app, **docker)
        self.name = self.engine.name
        self.publish = publish
        self.stack_path = Path(stack_path) if stack_path else (app.folder or Path.cwd()) / ".scanflow" / "stack.yaml"
        self.stack_name = self.engine.network  # docker stack deploy ... scanflow-APP

    def build(self, workflows: Iterable[str] | None = None, on_event: OnProgress | None = None) -> dict[str, str]:
        """Build the missing images of ``workflows`` (all by default); ``{node: image}``."""
        return self.engine.build(workflows, on_event)

    def start(self, on_event: OnProgress | None = None) -> str:
        """Build what is missing, deploy the stack (the Docker backend's tracker container is stopped first:
        the stack's tracker takes its volumes) and wait for every replica; returns the tracker's URL on the
        stack's network."""
        self.engine.build(on_event=on_event)
        self.stack_path.parent.mkdir(parents=True, exist_ok=True)
        self.engine.deploy_swarm(self.stack_path, on_event=on_event, **publish_keyword(self.publish))
        return f"http://tracker:{TRACKER_PORT}"

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
        """Refused: a swarm serves; batch workflows run with the Docker backend (see the module's text)."""
        raise BackendError(
            f"A swarm stack runs the online services of {self.name!r}, not its batch workflows (a swarm service "
            "restarts what ends). Run them with the Docker backend on this engine ('scanflow docker run', "
            "'%scanflow deploy run', DockerApp(app).run()): its tracker keeps the stack's volumes, so the models "
            "it registers are the ones the stack serves (stop the stack first)."
        )

    def serve(
        self, service: str, *, on_event: OnProgress | None = None, timeout: float = SERVICE_START_TIMEOUT
    ) -> Endpoint:
        """The endpoint of a Service node of the stack, once its replicas run (the stack is deployed first if
        the service is not in it)."""
        address, node = find_service(self.app, service)
        swarm_service = f"{self.stack_name}_{address.replace('/', '-')}"
        if swarm_service not in self.engine.replicas():
            self.start(on_event)
        deadline = time.monotonic() + timeout
        while (count := self.engine.replicas().get(swarm_service, "0/1")).split("/")[0] != count.split("/")[1]:
            if time.monotonic() > deadline:
                raise BackendError(f"Service {address!r} of the stack has {count} replicas after {timeout:g} s.")
            time.sleep(1)
        if on_event is not None:
            on_event(DeployEvent.progress(f"{swarm_service}: {count} running", address))
        host = "127.0.0.1" if self.publish is not None else address.replace("/", "-")  # else on the stack's network
        return Endpoint(address, swarm_service, f"http://{host}:{node.port}", node.port)

    def status(self) -> DeployStatus:
        """The stack's swarm services with their replicas, and the application's containers, images, volumes and
        networks (by label)."""
        found = DeployStatus(self.name, "Docker swarm", f"stack {self.stack_name}")
        found.objects += [Deployed("swarm service", s, r) for s, r in sorted(self.engine.replicas().items())]
        found.objects += self.engine.status().objects
        return found

    def stop(self) -> list[str]:
        """Remove the stack's services (``docker stack rm``); its volumes stay, with the tracker's runs and models.
        Returns the services removed."""
        import docker.errors

        removed: list[str] = []
        try:
            services = self.engine.client.services.list(filters=app_filter(self.name))
        except docker.errors.APIError:  # not a swarm: nothing of the stack can be there
            return removed
        for service in services:
            service.remove()
            removed.append(service.name or "")
        return removed

    def cleanup(self) -> DeployStatus:
        """Remove the stack and everything else the application created on this engine (by label)."""
        gone = self.engine.cleanup()
        return DeployStatus(self.name, "Docker swarm", f"stack {self.stack_name}", gone.objects)

    def export(self, path: str | Path | None = None) -> str:
        """The stack file (``publish`` as given to this deployment); written to ``path`` if given."""
        return self.engine.stack(path, **publish_keyword(self.publish))

    def tracker_uri(self) -> str | None:
        """The tracker on the stack's network while its service runs, else None (no port is published for it)."""
        running = self.engine.replicas().get(f"{self.stack_name}_tracker", "0/1")
        return f"http://tracker:{TRACKER_PORT}" if running.split("/")[0] not in ("", "0") else None


_CHECKED: type[Deployment] = SwarmApp  # mypy proves a SwarmApp is a Deployment (tests/deploy/test_base.py, at runtime)
