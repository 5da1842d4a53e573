"""Compose files and swarm stacks for an application.

``compose_file`` gives a Compose Specification file (``docker-compose config`` accepts it; Debian's
docker-compose 1.29 runs it): the tracker, the online services, and the batch steps as one-shot services
in the ``batch`` profile, each waiting for its upstream steps to complete successfully
(``docker-compose --profile batch up``). ``stack_file`` gives a version 3.8 file for ``docker stack
deploy``: the tracker and the online services with their replicas (a swarm runs long-lived services;
batch runs stay with ``scanflow run --backend docker``).

Services publish their ports on ``127.0.0.1`` only unless ``publish`` names another address: a scoring server
has no authentication. A swarm cannot publish on one address, so a stack publishes no port unless ``publish``
is every interface (``0.0.0.0``); its services are reached on the stack's network meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ...engine.params_resolve import step_command
from ...errors import DockerInputError
from ...workflow import Application, Executor, Service, Workflow, flatten
from ..container import service_command as service_command  # the container contract, also importable here
from ..tracker import TRACKER_PORT, server_command
from .client import LOOPBACK, check_publish, labels
from .dockerfile import APP_DIR, LAUNCHER_PATH
from .images import TRACKER


def tracker_command(app: str) -> list[str]:
    """The MLflow server of an application: SQLite and artifacts in named volumes, artifacts served."""
    allowed = ["tracker", "tracker:*", f"scanflow-{app}-tracker", f"scanflow-{app}-tracker:*"]
    allowed += ["localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*"]
    return server_command(allowed)


# The tracker only records runs and serves artifacts: MLflow's job runner (a second process for GenAI jobs and
# periodic tasks) would take a core from the steps, and more than halves the time the tracker takes to start.
TRACKER_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def tracker_volumes(app: str) -> dict[str, str]:
    """Named volume -> mount point of the tracker."""
    return {f"scanflow-{app}-mlflow-db": "/mlflow/db", f"scanflow-{app}-mlflow-artifacts": "/mlflow/artifacts"}


def data_volumes(app: str, data_dirs: tuple[str, ...]) -> dict[str, str]:
    """Named volume -> mount point of the shared data folders of the steps."""
    return {f"scanflow-{app}-{d.strip('/').replace('/', '-')}": f"{APP_DIR}/{d.strip('/')}" for d in data_dirs}


def health_test(port: int) -> list[str]:
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ping', timeout=3)"
    return ["CMD", "python", "-c", probe]


TRACKER_ENV = {"MLFLOW_TRACKING_URI": f"http://tracker:{TRACKER_PORT}"}


def _tracker(app: str, image: str) -> dict[str, Any]:
    return {
        "image": image,
        "command": tracker_command(app),
        "environment": dict(TRACKER_SERVER_ENV),
        "volumes": [f"{vol}:{path}" for vol, path in tracker_volumes(app).items()],
        "ports": [f"127.0.0.1::{TRACKER_PORT}"],
        "labels": labels(app, "tracker"),
        "networks": {"app": {"aliases": ["tracker"]}},
    }


def published(address: str, port: int) -> str:
    """A compose port binding of ``port`` on ``address`` (``127.0.0.1:8080:8080``; IPv6 in brackets)."""
    host = f"[{address}]" if ":" in check_publish(address) else address
    return f"{host}:{port}:{port}"


def _service(app: str, address: str, node: Service, image: str, publish: str = LOOPBACK) -> dict[str, Any]:
    return {
        "image": image,
        "command": service_command(node),
        "environment": {**node.env, **TRACKER_ENV},
        "ports": [published(publish, node.port)],
        "healthcheck": {"test": health_test(node.port), "interval": "5s", "timeout": "5s", "retries": 30},
        "labels": labels(app, "service", node=address),
        "networks": ["app"],
    }


def compose_file(
    app: Application, images: Mapping[str, str], data_dirs: tuple[str, ...] = ("work",), publish: str = LOOPBACK
) -> str:
    """The Compose Specification file of ``app`` (every workflow), with the images in ``images``
    (``{node address or 'tracker': image name}``); services publish their ports on ``publish``."""
    services: dict[str, Any] = {"tracker": _tracker(app.name, images[TRACKER])}
    data = data_volumes(app.name, data_dirs)
    for wf in app.workflows:
        graph = flatten(wf)
        for address, node in Workflow.leaves(wf).items():
            key = address.replace("/", "-")
            if isinstance(node, Service):
                spec = _service(app.name, address, node, images[address], publish)
                spec["depends_on"] = ["tracker"]
                services[key] = spec
            elif isinstance(node, Executor):
                done = "service_completed_successfully"
                after = {d.replace("/", "-"): {"condition": done} for d in sorted(graph.deps[address])}
                services[key] = {
                    "image": images[address],
                    "command": ["python", LAUNCHER_PATH, *step_command(node, node.defaults())],
                    "environment": {**node.env, **TRACKER_ENV, "SCANFLOW_NODE": address},
                    "volumes": [f"{vol}:{path}" for vol, path in data.items()],
                    "labels": labels(app.name, "step", node=address),
                    "networks": ["app"],
                    "profiles": ["batch"],
                    "restart": "no",
                    "depends_on": {"tracker": {"condition": "service_started"}, **after},
                }
    volumes = {vol: {"name": vol, "labels": labels(app.name, "volume")} for vol in [*tracker_volumes(app.name), *data]}
    doc = {
        "services": services,
        "networks": {"app": {"name": f"scanflow-{app.name}", "labels": labels(app.name, "network")}},
        "volumes": volumes,
    }
    return _dump(doc, f"Compose file of application {app.name!r}, generated by scanflow-jupyter")


def stack_file(app: Application, images: Mapping[str, str], publish: str | None = None) -> str:
    """The swarm stack of ``app``: the tracker and the online services, with replicas.

    Services are found by DNS round robin (``endpoint_mode: dnsrr``). With ``publish="0.0.0.0"`` they publish
    their ports on every interface of the node running them (``mode: host``): this needs no IPVS in the kernel,
    which swarm's virtual IPs and its ingress mesh do (and which many hosts and sandboxes lack); one replica per
    node and published port. Without, they publish none: a swarm cannot bind a port to one address.

    Raises
    ------
    DockerInputError
        When ``publish`` is an address other than every interface.
    """
    if publish is not None and check_publish(publish) not in ("0.0.0.0", "::"):
        raise DockerInputError(
            f"A swarm stack cannot publish on {publish!r}: swarm binds a published port on every interface of "
            "a node, or none. Publish with '0.0.0.0' (anyone who reaches the node can call the model), or leave "
            "publish out and reach the services on the stack's network."
        )
    tracker = _tracker(app.name, images[TRACKER])
    del tracker["ports"]  # reached by the services on the stack's network
    tracker["networks"] = ["app"]
    tracker["deploy"] = {"replicas": 1, "endpoint_mode": "dnsrr", "labels": labels(app.name, "tracker")}
    services: dict[str, Any] = {"tracker": tracker}
    for wf in app.workflows:
        for address, node in Workflow.leaves(wf).items():
            if isinstance(node, Service):
                spec = _service(app.name, address, node, images[address])
                if publish is None:
                    del spec["ports"]
                else:
                    spec["ports"] = [{"target": node.port, "published": node.port, "protocol": "tcp", "mode": "host"}]
                spec["deploy"] = {
                    "replicas": node.replicas,
                    "endpoint_mode": "dnsrr",
                    "labels": labels(app.name, "service", node=address),
                }
                services[address.replace("/", "-")] = spec
    doc = {
        "version": "3.8",
        "services": services,
        "networks": {"app": {"driver": "overlay", "labels": labels(app.name, "network")}},
        # The same volumes as the Docker backend's tracker: what it tracked and registered, the stack serves.
        "volumes": {vol: {"name": vol, "labels": labels(app.name, "volume")} for vol in tracker_volumes(app.name)},
    }
    return _dump(doc, f"Swarm stack of application {app.name!r}, generated by scanflow-jupyter")


class _NoAliases(yaml.SafeDumper):
    """Repeated values written out in full: compose files are read by people."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(doc: dict[str, Any], title: str) -> str:
    body = yaml.dump(doc, Dumper=_NoAliases, sort_keys=False, default_flow_style=False, width=120)
    return f"# {title}; do not edit.\n{body}"
