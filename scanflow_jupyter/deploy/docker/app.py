"""An application on a Docker engine: build its images, start its network and tracker, run its batch
workflows in containers, serve its models, export it, stop it and clean up exactly what it created.

Example
-------
>>> from scanflow_jupyter.workflow import load
>>> from scanflow_jupyter.deploy.docker import DockerApp
>>> deployment = DockerApp(load("examples/tabular"), base_image="scanflow/debian-python:bookworm")  # doctest: +SKIP
>>> deployment.run(workers=2).status                                                               # doctest: +SKIP
'succeeded'
>>> deployment.cleanup()                                                                           # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...engine.events import Event
from ...errors import BackendError, ImageBuildError, PortInUseError
from ...workflow import Application
from ..base import Deployed, DeployEvent, DeployStatus, Endpoint, OnLog, OnProgress, engine_twin, find_service
from ..tracker import TRACKER_PORT
from . import compose as compose_mod
from .backend import DockerBackend
from .client import LABEL_NODE, LABEL_ROLE, LOOPBACK, app_filter, check_object_name, check_publish, connect, labels
from .dockerfile import DEFAULT_BASE_IMAGE, ImageOptions
from .images import ImageSpec, build, plan

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

    from ...engine.runner import RunResult

TRACKER_START_TIMEOUT = 120.0
SERVICE_START_TIMEOUT = 180.0


class DockerApp:
    """An application deployed on the local Docker engine.

    Parameters
    ----------
    app: the application (loaded from its folder).
    base_image: the base of every generated image; default: the application's ``base_image``, else
        ``SCANFLOW_BASE_IMAGE``, else ``python:3.11-slim`` (``scanflow docker base-image`` builds an offline one).
    ca_bundle: an extra CA bundle for pip inside builds; default ``SCANFLOW_CA_BUNDLE``, else ``PIP_CERT``.
    pip_index_url, pip_extra_index_urls, pip_trusted_hosts: see :class:`~.dockerfile.ImageOptions`.
    data_dirs: application folders the steps share through named volumes (``work`` by default).
    build_network: the network mode of builds (``host`` to reach an index on this machine's localhost).
    client: a docker client (default: the local engine, checked with a ping).
    """

    def __init__(
        self,
        app: Application,
        *,
        base_image: str | None = None,
        ca_bundle: str | Path | None = None,
        pip_index_url: str | None = None,
        pip_extra_index_urls: Iterable[str] = (),
        pip_trusted_hosts: Iterable[str] = (),
        data_dirs: Iterable[str] = ("work",),
        build_network: str | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.app = app
        self.name = check_object_name(app.name, "Application")
        # The machine's own settings carry over: SCANFLOW_BASE_IMAGE (an offline base, say) and the CA bundle
        # pip uses here (PIP_CERT), which containers need behind the same proxy.
        bundle = ca_bundle or os.environ.get("SCANFLOW_CA_BUNDLE") or os.environ.get("PIP_CERT")
        self.options = ImageOptions(
            base_image=base_image or app.base_image or os.environ.get("SCANFLOW_BASE_IMAGE") or DEFAULT_BASE_IMAGE,
            ca_bundle=Path(bundle) if bundle else None,
            pip_index_url=pip_index_url,
            pip_extra_index_urls=tuple(pip_extra_index_urls),
            pip_trusted_hosts=tuple(pip_trusted_hosts),
            data_dirs=tuple(data_dirs),
        )
        self.build_network = build_network
        self._client = client
        self.network = f"scanflow-{self.name}"
        self.tracker_name = f"scanflow-{self.name}-tracker"

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect()
        return self._client

    # -- images ---------------------------------------------------------------------------------
    def base_image_id(self) -> str:
        """The engine's id of the base image (pulled if missing, which needs a registry)."""
        import docker.errors

        base = self.options.base_image
        try:
            return str(self.client.images.get(base).id)
        except docker.errors.ImageNotFound:
            pass
        try:
            return str(self.client.images.pull(base).id)
        except docker.errors.DockerException as exc:
            raise ImageBuildError(
                f"The base image {base!r} is not on this engine and could not be pulled "
                f"({str(exc).splitlines()[0][:200]}). Without a registry, build one offline with "
                f"'scanflow docker base-image' and pass base_image='scanflow/debian-python:bookworm'.",
                base,
            ) from None

    def images(self, workflows: Iterable[str] | None = None, tracker: bool = True) -> list[ImageSpec]:
        """The images of ``workflows`` (all by default), the shared runtime first and the tracker last, with
        their content tags."""
        return plan(self.app, self.options, self.base_image_id(), version("mlflow"), workflows, tracker)

    def build(
        self,
        workflows: Iterable[str] | None = None,
        on_event: OnProgress | None = None,
        tracker: bool = True,
        no_cache: bool = False,
    ) -> dict[str, str]:
        """Build what is missing; returns ``{node: image}``. See :func:`.images.build`."""
        return build(self.client, self.images(workflows, tracker), on_event, self.build_network, no_cache)

    # -- network, volumes, tracker --------------------------------------------------------------
    def _network(self) -> None:
        import docker.errors

        try:
            self.client.networks.get(self.network)
        except docker.errors.NotFound:
            self.client.networks.create(self.network, driver="bridge", labels=labels(self.name, "network"))

    def _volume(self, name: str) -> Any:
        import docker.errors

        try:
            return self.client.volumes.get(name)
        except docker.errors.NotFound:
            # A label that tells this volume from one made under the same name later (a cached step result
            # lives in it). Its CreatedAt cannot: the engine reports the folder's modification time.
            mark = labels(self.name, "volume", volume_id=uuid.uuid4().hex[:16])
            return self.client.volumes.create(name, labels=mark)

    def _container(self, name: str) -> Container | None:
        import docker.errors

        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def start(self, on_event: OnProgress | None = None) -> str:
        """Start the network and the MLflow tracker (building its image if needed); returns the tracker's
        URI as seen from this machine. Idempotent: a running tracker is reused."""
        specs = self.images(workflows=[], tracker=True)  # the runtime and the tracker
        spec = next(s for s in specs if s.role == "tracker")
        build(self.client, specs, on_event, self.build_network)
        self._network()
        existing = self._container(self.tracker_name)
        if existing is not None and (existing.status != "running" or existing.image.tags[:1] != [spec.name]):
            existing.remove(force=True)
            existing = None
        if existing is None:
            volumes = compose_mod.tracker_volumes(self.name)
            for vol in volumes:
                self._volume(vol)
            self.client.containers.run(
                spec.name,
                compose_mod.tracker_command(self.name),
                name=self.tracker_name,
                detach=True,
                network=self.network,
                environment=compose_mod.TRACKER_SERVER_ENV,
                ports={f"{TRACKER_PORT}/tcp": ("127.0.0.1", None)},
                volumes={v: {"bind": p, "mode": "rw"} for v, p in volumes.items()},
                labels=labels(self.name, "tracker"),
                restart_policy={"Name": "unless-stopped"},
            )
            self.client.networks.get(self.network).reload()
        container = self._container(self.tracker_name)
        assert container is not None
        self._alias_tracker(container)
        uri = self._wait_tracker(container)
        return uri

    def _alias_tracker(self, container: Container) -> None:
        """Give the tracker the network alias ``tracker`` (steps and services use http://tracker:5000)."""
        container.reload()
        nets = container.attrs["NetworkSettings"]["Networks"]
        aliases = (nets.get(self.network) or {}).get("Aliases") or []
        if "tracker" not in aliases:
            net = self.client.networks.get(self.network)
            with contextlib.suppress(Exception):
                net.disconnect(container)
            net.connect(container, aliases=["tracker"])

    def tracker_uri(self) -> str | None:
        """The running tracker's URI from this machine, or None."""
        container = self._container(self.tracker_name)
        if container is None or container.status != "running":
            return None
        ports = container.attrs["NetworkSettings"]["Ports"].get(f"{TRACKER_PORT}/tcp") or []
        return f"http://127.0.0.1:{ports[0]['HostPort']}" if ports else None

    def _wait_tracker(self, container: Container) -> str:
        deadline = time.monotonic() + TRACKER_START_TIMEOUT
        while time.monotonic() < deadline:
            container.reload()
            if container.status not in ("created", "running", "restarting"):
                break
            uri = self.tracker_uri()
            if uri is not None and _get(f"{uri}/health") == 200:
                return uri
            time.sleep(0.5)
        logs = container.logs(tail=30).decode("utf-8", "replace")
        raise BackendError(
            f"The MLflow tracker of {self.name!r} ({self.tracker_name}) did not become ready "
            f"(status {container.status}). Its last log lines:\n{logs}"
        )

    # -- batch runs -----------------------------------------------------------------------------
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
        keep_containers: bool = False,
    ) -> RunResult:
        """Run a batch workflow with each step in its container, through the engine's scheduler (the same
        states, retries, caching, run state and MLflow run tree as a local run, tracked by the tracker).

        Images are built first (only the missing ones) and the tracker started if it is not running, both
        reported to ``on_progress``.
        """
        from ...engine.runner import run as engine_run

        twin, name, backend = self._prepare(workflow, on_progress, on_log, keep_containers)
        try:
            return engine_run(
                twin,
                name,
                workers=workers,
                force=force,
                params=params,
                backend=backend,
                check=check,
                on_event=on_event,
                tracking=tracking,
            )
        finally:
            backend.drain()

    def resume(
        self,
        run_id: str | None = None,
        *,
        workers: int | None = None,
        check: bool = True,
        on_event: Callable[[Event], None] | None = None,
        on_progress: OnProgress | None = None,
        on_log: OnLog | None = None,
    ) -> RunResult:
        """Finish a failed or interrupted container run (the latest by default): finished steps are reused,
        the others run again in containers, in the same MLflow parent run."""
        from ...engine.runner import resume as engine_resume
        from ...engine.runner import status as engine_status

        state = engine_status(self.app, run_id)
        twin, _name, backend = self._prepare(state.workflow, on_progress, on_log, False)
        try:
            return engine_resume(twin, state.run_id, workers=workers, backend=backend, check=check, on_event=on_event)
        finally:
            backend.drain()

    def _prepare(
        self,
        workflow: str | None,
        on_progress: OnProgress | None,
        on_log: OnLog | None,
        keep_containers: bool,
    ) -> tuple[Application, str, DockerBackend]:
        """Start the tracker, build the workflow's images, and make the application's twin that the engine
        runs (tracked by the tracker) and the backend that runs its steps."""
        self.app.validate()
        wf = self.app.workflow(workflow)
        uri = self.start(on_progress)
        specs = {s.node: s for s in self.images([wf.name], tracker=False)}
        built = build(self.client, specs.values(), on_progress, self.build_network)
        data = compose_mod.data_volumes(self.name, self.options.data_dirs)
        stamps = {vol: _volume_id(self._volume(vol)) for vol in data}
        # A run tracked by the tracker, and a cache key that includes the image and the data volumes: a
        # local result is never reused for a container run, nor a result whose volume was removed since.
        volumes = json.dumps(stamps, sort_keys=True)
        twin, executors = engine_twin(
            self.app, wf.name, uri, lambda address: {"SCANFLOW_IMAGE": built[address], "SCANFLOW_DATA": volumes}
        )
        backend = DockerBackend(
            self.client,
            self.name,
            executors,
            {a: (built[a], specs[a].custom) for a in executors},
            self.network,
            data,
            (uri, compose_mod.TRACKER_ENV["MLFLOW_TRACKING_URI"]),
            on_log,
            keep_containers,
        )
        return twin, wf.name, backend

    # -- online services ------------------------------------------------------------------------
    def serve(
        self,
        service: str,
        *,
        port: int | None = None,
        publish: str = LOOPBACK,
        on_event: OnProgress | None = None,
        timeout: float = SERVICE_START_TIMEOUT,
    ) -> Endpoint:
        """Serve a Service node's model (MLflow's scoring server) in a container publishing ``port`` (the
        service's port by default) on ``publish`` (this machine only by default: the scoring server has no
        authentication; ``"0.0.0.0"`` opens it to every interface), wait until its health check passes, and
        return its endpoint."""
        import docker.errors

        address, node = find_service(self.app, service)
        host_port = port or node.port
        check_publish(publish)
        check_port_free(host_port, address, publish)
        self.start(on_event)
        specs = [s for s in self.images(tracker=False) if s.node == address or s.role == "runtime"]
        image = build(self.client, specs, on_event, self.build_network)[address]
        name = check_object_name(f"scanflow-{self.name}-{address.replace('/', '-')}", "Service container")
        old = self._container(name)
        if old is not None:
            old.remove(force=True)
        try:
            container = self.client.containers.run(
                image,
                compose_mod.service_command(node),
                name=name,
                detach=True,
                network=self.network,
                environment={**node.env, **compose_mod.TRACKER_ENV},
                ports={f"{node.port}/tcp": (publish, host_port)},
                labels=labels(self.name, "service", node=address),
                healthcheck={
                    "test": compose_mod.health_test(node.port),
                    "interval": 1_000_000_000,
                    "timeout": 3_000_000_000,
                    "retries": 3,
                    "start_period": int(timeout * 1e9),
                },
            )
        except docker.errors.APIError as exc:
            leftover = self._container(name)
            if leftover is not None:
                leftover.remove(force=True)
            text = str(exc.explanation or exc)
            if "port is already allocated" in text or "address already in use" in text:
                raise PortInUseError(_port_message(host_port, service)) from None
            raise BackendError(f"Service {address!r} did not start: {text}") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            container.reload()
            health = container.attrs["State"].get("Health", {}).get("Status")
            if health == "healthy":
                host = LOOPBACK if publish in ("0.0.0.0", "::") else f"[{publish}]" if ":" in publish else publish
                return Endpoint(address, name, f"http://{host}:{host_port}", host_port)
            if container.status not in ("created", "running", "restarting"):
                break
            time.sleep(0.5)
        logs = container.logs(tail=40).decode("utf-8", "replace")
        raise BackendError(
            f"Service {address!r} ({name}) did not become healthy (status {container.status}). "
            f"Check its model_uri {node.model_uri!r} exists in the tracker. Its last log lines:\n{logs}"
        )

    def predict(self, service: str, data: Any, *, port: int | None = None, timeout: float = 60.0) -> Any:
        """Call a served model: ``data`` is a pandas DataFrame, a list of rows or a ready MLflow payload
        (a dict); returns the predictions."""
        address, node = find_service(self.app, service)
        host_port = port or self._published_port(address) or node.port
        if isinstance(data, dict):
            payload = data
        elif hasattr(data, "to_dict"):
            payload = {"dataframe_split": json.loads(data.to_json(orient="split", index=False))}
        else:
            payload = {"inputs": data.tolist() if hasattr(data, "tolist") else list(data)}
        request = urllib.request.Request(
            f"http://127.0.0.1:{host_port}/invocations",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise BackendError(
                f"Service {address!r} refused the request ({exc.code}): {exc.read().decode()[:500]}"
            ) from None
        except OSError as exc:
            raise BackendError(
                f"Service {address!r} is not answering on port {host_port} ({exc}); start it with serve()."
            ) from None
        return answer.get("predictions", answer) if isinstance(answer, dict) else answer

    def _published_port(self, address: str) -> int | None:
        container = self._container(f"scanflow-{self.name}-{address.replace('/', '-')}")
        if container is None:
            return None
        for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
            for binding in bindings or []:
                return int(binding["HostPort"])
        return None

    # -- agents (see :mod:`.agents`; :mod:`scanflow_jupyter.agents.docker` chooses the agent and its command) ------
    def agent_image(self, packages: Iterable[str] = (), on_event: OnProgress | None = None) -> str:
        """Build (when missing) the agents' image, with the extra requirements ``packages``; returns its name."""
        from .agents import agent_image

        return agent_image(self, packages, on_event)

    def run_agent(self, agent: str, image: str, command: list[str], env: Mapping[str, str], workdir: str) -> str:
        """Run ``agent``'s container (replacing an earlier one); returns its name at once."""
        from .agents import run_agent

        return run_agent(self, agent, image, command, env, workdir)

    def stop_agent(self, agent: str, timeout: int = 30) -> bool:
        """Stop and remove ``agent``'s container; False when there was none."""
        from .agents import stop_agent

        return stop_agent(self, agent, timeout)

    def agent_logs(self, agent: str, tail: int = 50) -> str:
        """The last ``tail`` lines ``agent``'s container wrote."""
        from .agents import agent_logs

        return agent_logs(self, agent, tail)

    # -- status, stop, clean up -----------------------------------------------------------------
    def status(self) -> DeployStatus:
        """The containers, images, volumes and networks of this application (by label)."""
        client, mine = self.client, app_filter(self.name)
        found = DeployStatus(self.name, "Docker")
        for c in client.containers.list(all=True, filters=mine):
            role, node = c.labels.get(LABEL_ROLE, ""), c.labels.get(LABEL_NODE, "")
            found.objects.append(Deployed("container", c.name or "", c.status, role, node))
        for image in client.images.list(filters=mine):
            found.objects += [Deployed("image", tag) for tag in image.tags or [image.short_id]]
        volumes = sorted(v.name or "" for v in client.volumes.list(filters=mine))
        networks = sorted(n.name or "" for n in client.networks.list(filters=mine))
        found.objects += [Deployed("volume", v) for v in volumes] + [Deployed("network", n) for n in networks]
        return found

    def stop(self) -> list[str]:
        """Stop and remove this application's containers (tracker, services, steps); keeps images and
        volumes. Returns the names removed."""
        removed = []
        for c in self.client.containers.list(all=True, filters=app_filter(self.name)):
            c.remove(force=True)
            removed.append(c.name or c.id or "")
        return removed

    def cleanup(self, images: bool = True, volumes: bool = True) -> DeployStatus:
        """Remove everything this application created (found by label) and nothing else; returns what was
        removed."""
        import docker.errors

        gone = DeployStatus(self.name, "Docker")
        with contextlib.suppress(docker.errors.APIError):  # swarm services of a deployed stack
            for service in self.client.services.list(filters=app_filter(self.name)):
                service.remove()
                gone.objects.append(Deployed("swarm service", service.name or "", "removed"))
        deadline = time.monotonic() + 60
        while self.client.containers.list(all=True, filters={"label": "com.docker.stack.namespace=" + self.network}):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)  # swarm removes the tasks' containers on its own, shortly
        gone.objects += [Deployed("container", n, "removed") for n in self.stop()]
        for net in self.client.networks.list(filters=app_filter(self.name)):
            deadline = time.monotonic() + 30
            while True:  # a swarm network stays busy for a moment after its services are removed
                try:
                    net.remove()
                    break
                except docker.errors.NotFound:
                    break
                except docker.errors.APIError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            gone.objects.append(Deployed("network", net.name or "", "removed"))
        if volumes:
            for vol in self.client.volumes.list(filters=app_filter(self.name)):
                vol.remove(force=True)
                gone.objects.append(Deployed("volume", vol.name or "", "removed"))
        if images:
            for image in self.client.images.list(filters=app_filter(self.name)):
                with contextlib.suppress(docker.errors.NotFound):
                    self.client.images.remove(image.id, force=True)
                gone.objects += [Deployed("image", tag, "removed") for tag in image.tags or [image.short_id]]
        return gone

    # -- export -----------------------------------------------------------------------------------
    def image_names(self) -> dict[str, str]:
        return {s.node: s.name for s in self.images()}

    def export(self, path: str | Path | None = None) -> str:
        """The compose file, services on this machine only (:meth:`compose`); written to ``path`` if given."""
        return self.compose(path)

    def compose(self, path: str | Path | None = None, *, publish: str = LOOPBACK) -> str:
        """The compose file (see :mod:`.compose`; services published on ``publish``); written to ``path`` if
        given."""
        text = compose_mod.compose_file(self.app, self.image_names(), self.options.data_dirs, publish)
        if path is not None:
            Path(path).write_text(text)
        return text

    def deploy_swarm(
        self,
        stack_path: str | Path,
        *,
        publish: str | None = None,
        timeout: float = SERVICE_START_TIMEOUT,
        on_event: OnProgress | None = None,
    ) -> dict[str, str]:
        """Deploy the stack on this engine's swarm (``docker stack deploy``; the engine must be a swarm
        manager) and wait until every service has its replicas; returns ``{service: "running/wanted"}``.
        The services publish no port unless ``publish="0.0.0.0"`` (see :func:`.compose.stack_file`).

        The stack's tracker uses the same named volumes as :meth:`start`'s, so stop that one first
        (:meth:`stop`): models registered there are served by the stack.
        """
        import subprocess

        tell = on_event or (lambda _event: None)

        def say(line: str) -> None:
            tell(DeployEvent.progress(line))

        info = self.client.info().get("Swarm", {})
        if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
            raise BackendError(
                "This Docker engine is not a swarm manager. Make it one with "
                "'docker swarm init --advertise-addr 127.0.0.1' (or join a swarm), then deploy again."
            )
        text = self.stack(publish=publish)  # a bad publish is refused before anything stops
        self.stop()
        Path(stack_path).write_text(text)
        cmd = ["docker", "stack", "deploy", "--compose-file", str(stack_path), self.network]
        say("$ " + " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        for line in (proc.stdout + proc.stderr).splitlines():
            say(line)
        if proc.returncode != 0:
            raise BackendError(f"'docker stack deploy' failed (exit code {proc.returncode}):\n{proc.stderr.strip()}")
        deadline = time.monotonic() + timeout
        replicas: dict[str, str] = {}
        while time.monotonic() < deadline:
            replicas = self.replicas()
            if replicas and all(r.split("/")[0] == r.split("/")[1] for r in replicas.values()):
                return replicas
            time.sleep(1)
        raise BackendError(f"The stack {self.network!r} did not reach its replicas in {timeout:g} s: {replicas}")

    def replicas(self) -> dict[str, str]:
        """``{swarm service: "running/wanted"}`` for this application's swarm services."""
        import docker.errors

        out: dict[str, str] = {}
        try:
            services = self.client.services.list(filters=app_filter(self.name))
        except docker.errors.APIError:  # not a swarm
            return out
        for service in services:
            wanted = int(service.attrs["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas", 1))
            running = sum(
                1 for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"
            )
            out[service.name or ""] = f"{running}/{wanted}"
        return out

    def stack(self, path: str | Path | None = None, *, publish: str | None = None) -> str:
        """The swarm stack file (see :func:`.compose.stack_file` for ``publish``); written to ``path`` if given."""
        text = compose_mod.stack_file(self.app, self.image_names(), publish)
        if path is not None:
            Path(path).write_text(text)
        return text


def _volume_id(volume: Any) -> str:
    marks = volume.attrs.get("Labels") or {}
    return str(marks.get("scanflow.volume_id") or volume.attrs.get("CreatedAt", ""))


def check_port_free(port: int, service: str = "", address: str = "0.0.0.0") -> None:
    """Raise ``PortInUseError`` when ``port`` (for ``service``) cannot be bound on ``address`` of this machine."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(_port_message(port, service)) from None
            raise


def _port_message(port: int, service: str = "") -> str:
    who = f" for service {service!r}" if service else ""
    return (
        f"Port {port} is already in use on this machine, so it cannot be published{who}. Stop what uses it "
        f"('ss -ltnp | grep :{port}' shows it) or choose another port (serve(..., port=N), '--port N')."
    )


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except (OSError, ValueError):
        return None
