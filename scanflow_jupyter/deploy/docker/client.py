"""The Docker engine connection, the labels on everything we create, and Docker's naming rules.

The docker SDK is imported here, lazily, the first time an engine is needed.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import TYPE_CHECKING, Any, TypedDict

from ...errors import BackendUnavailableError, DockerInputError, DockerNameError
from ..container import check_image_name as check_image_name  # where the other modules look for it

if TYPE_CHECKING:
    import docker

LABEL_APP = "scanflow.app"  # the application an object belongs to
LABEL_ROLE = "scanflow.role"  # step, tracker, service, network, volume, image
LABEL_RUN = "scanflow.run_id"
LABEL_NODE = "scanflow.node"
LABEL_MANAGED = "scanflow.managed"  # "true" on everything this package creates

START_HINT = (
    "Start the Docker engine: 'sudo systemctl start docker', or run 'sudo dockerd &' where there is no systemd "
    "(on Debian: 'sudo apt-get install docker.io' first). If it runs elsewhere, set DOCKER_HOST "
    "(for example unix:///var/run/docker.sock)."
)

# A Docker object name: what the engine accepts for containers, networks and volumes.
_OBJECT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
# Where services publish their ports unless told otherwise: this machine only. Their scoring servers
# (/invocations) have no authentication.
LOOPBACK = "127.0.0.1"


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client of the local Docker engine (``DOCKER_HOST`` or the default socket), checked with a ping.

    Raises
    ------
    BackendUnavailableError
        When the docker SDK is missing or no engine answers; the message says how to start one.
    """
    try:
        import docker
        import docker.errors
    except ImportError:  # pragma: no cover - docker is a dependency
        raise BackendUnavailableError(
            "The docker Python package is missing: 'pip install docker>=7.1' (it is a dependency of "
            "scanflow-jupyter, so reinstalling scanflow-jupyter also brings it)."
        ) from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        host = os.environ.get("DOCKER_HOST")
        where = f" at DOCKER_HOST={host}" if host else ""
        raise BackendUnavailableError(f"No Docker engine is reachable{where} ({_short(exc)}). {START_HINT}") from None
    return client


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def object_name(*parts: str) -> str:
    """A container, network or volume name made of ``parts`` (joined by ``-``, ``/`` becomes ``-``)."""
    name = "-".join(p.replace("/", "-") for p in parts if p)
    check_object_name(name)
    return name


def check_object_name(name: str, what: str = "Docker object") -> str:
    """Raise ``DockerNameError`` naming ``name`` when Docker would refuse it as a container/network/volume
    name."""
    if not _OBJECT_NAME.match(name):
        raise DockerNameError(
            f"{what} name {name!r} is not valid for Docker: it must start with a letter or digit and contain "
            "only letters, digits, '_', '.' and '-'. Rename the application or node (DNS-1123 labels such as "
            "'my-app' are always safe)."
        )
    return name


def check_publish(address: str) -> str:
    """Raise ``DockerInputError`` when ``address`` (where a service publishes its port) is not an IP address
    of this machine's form (``127.0.0.1``, ``0.0.0.0`` for every interface, ``::1``)."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise DockerInputError(
            f"publish {address!r} is not an IP address. Give the address to publish services on: "
            f"'{LOOPBACK}' (this machine only, the default), '0.0.0.0' (every interface: anyone who reaches this "
            "machine can call the model) or one of this machine's addresses."
        ) from None
    return address


class Publish(TypedDict, total=False):
    """The keywords :func:`publish_keyword` gives."""

    publish: str


def publish_keyword(publish: str | None) -> Publish:
    """The ``publish`` keyword for :class:`~.app.DockerApp`'s ``serve``, ``compose``, ``stack`` and
    ``deploy_swarm`` from an entry point's ``--publish`` (None when not given): none unless given, so the
    backend's safe default holds (this machine only, or no port for a stack)."""
    return {} if publish is None else {"publish": publish}


def labels(app: str, role: str, **extra: str) -> dict[str, str]:
    """The labels put on an object this package creates for application ``app``."""
    out = {LABEL_MANAGED: "true", LABEL_APP: app, LABEL_ROLE: role}
    out.update({f"scanflow.{k}": v for k, v in extra.items()})
    return out


def app_filter(app: str, role: str | None = None) -> dict[str, Any]:
    """A ``filters`` argument selecting exactly the objects of ``app`` (and ``role``) by label."""
    wanted = [f"{LABEL_MANAGED}=true", f"{LABEL_APP}={app}"]
    if role is not None:
        wanted.append(f"{LABEL_ROLE}={role}")
    return {"label": wanted}
