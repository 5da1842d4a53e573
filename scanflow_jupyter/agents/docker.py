"""Agents as long-running containers of an application deployed with the Docker backend.

:func:`start_agent` runs one declared agent in the application's agent image, on the application's network,
logging its decisions to the application's tracker container and sharing its data volumes with the steps. Which
agent runs, with which command, environment and extra packages, is decided here (:func:`~.spec.service_spec`);
how the image is built and the container run is the Docker backend's (``DockerApp.agent_image``, ``run_agent``,
``stop_agent``, ``agent_logs``: the Docker backend's agents module), reached through the :class:`DockerAgents`
protocol so that this layer never imports the backend. An agent that loads a detector (a checker) adds
TensorFlow. ``docker stop`` (SIGTERM) stops the agent cleanly; the containers carry the application's labels
(``scanflow.role = agent``), so ``DockerApp.status()``, ``stop()`` and ``cleanup()`` see them.

Example
-------
>>> deployment = DockerApp(app)                                   # doctest: +SKIP
>>> start_agent(deployment, "planner")                            # doctest: +SKIP
AgentContainer(agent='planner', container='scanflow-digits-agent-planner', image='scanflow/digits-agents:...')
>>> print(agent_logs(deployment, "planner"))                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..deploy.base import OnProgress
from ..workflow import Application
from .spec import check, service_spec

__all__ = ["AgentContainer", "DockerAgents", "agent_image", "agent_logs", "start_agent", "stop_agent"]


class DockerAgents(Protocol):
    """What the agents use of a ``DockerApp``: its application, its tracker and network (``start``) and its
    agent containers."""

    app: Application
    name: str

    def start(self, on_event: OnProgress | None = None) -> str: ...

    def agent_image(self, packages: Iterable[str] = (), on_event: OnProgress | None = None) -> str: ...

    def run_agent(self, agent: str, image: str, command: list[str], env: Mapping[str, str], workdir: str) -> str: ...

    def stop_agent(self, agent: str, timeout: int = 30) -> bool: ...

    def agent_logs(self, agent: str, tail: int = 50) -> str: ...


@dataclass(frozen=True)
class AgentContainer:
    """An agent running in a container: which agent, the container's name, the image."""

    agent: str
    container: str
    image: str


def agent_image(deployment: DockerAgents, packages: Iterable[str] = (), on_event: OnProgress | None = None) -> str:
    """Build (when missing) the image the application's agents run in; returns its name. ``packages`` are extra
    requirements (``tensorflow-cpu`` for a checker)."""
    return deployment.agent_image(packages, on_event)


def start_agent(deployment: DockerAgents, agent: str, *, on_event: OnProgress | None = None) -> AgentContainer:
    """Run ``agent`` (declared in the application's ``scanflow.yaml``) in a container of ``deployment``: the
    network and tracker are started and the image built when needed (reported to ``on_event``); an earlier
    container of the agent is replaced. Returns at once (the agent runs until :func:`stop_agent` or the
    deployment's ``stop``)."""
    check(deployment.app, agent)  # a bad declaration fails here, before any build
    service = service_spec(deployment.app, agent)
    deployment.start(on_event)
    image = deployment.agent_image(service.packages, on_event)
    name = deployment.run_agent(agent, image, service.command, service.env, service.workdir)
    return AgentContainer(agent, name, image)


def stop_agent(deployment: DockerAgents, agent: str, timeout: int = 30) -> bool:
    """Stop the agent's container (SIGTERM: it stops cleanly) and remove it; False when there was none."""
    return deployment.stop_agent(agent, timeout)


def agent_logs(deployment: DockerAgents, agent: str, tail: int = 50) -> str:
    """The last lines the agent's container wrote (its decisions, errors and retries)."""
    return deployment.agent_logs(agent, tail)
