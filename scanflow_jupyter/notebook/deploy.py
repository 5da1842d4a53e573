"""``%scanflow deploy``: the backends it can deploy to, each with the actions it does, and the dispatch to the
chosen one (``--to``, Docker by default).

Each backend's module (:mod:`.deploy_docker`, :mod:`.deploy_kubernetes`, :mod:`.deploy_swarm`) is imported only
when chosen, and none imports another: what they share is :mod:`.deploy_shown`. A backend's module makes its
:class:`~scanflow_jupyter.deploy.base.Deployment` (one per application and options, kept in its
:class:`DeployPanel`); the actions every deployment does (the panel, build, start, run, status, stop, clean up)
are done here, through the protocol, and the others (serve, compose, export, logs...) by the backend's command.
An action a backend does not do is refused here, before its deployment is made, with the backend that does it
named.

Example
-------
>>> sorted(BACKENDS)
['docker', 'kubernetes', 'swarm']
>>> BACKENDS["docker"].refusal("logs")
'%scanflow deploy logs is for Kubernetes: add --to kubernetes.'
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from ..deploy.base import Deployment
from ..workflow import Application
from .deploy_shown import perform_shown
from .widgets.deploy import DeployPanel

__all__ = ["BACKENDS", "COMMON_ACTIONS", "PANEL_ACTIONS", "DeployBackend", "deploy_command"]

# What every backend does, through its panel or directly.
COMMON_ACTIONS = ("panel", "build", "start", "run", "serve", "status", "stop", "cleanup")
# What is done here on any backend, through the Deployment protocol and the panel.
PANEL_ACTIONS = ("build", "start", "run", "status", "stop", "cleanup")

# (the key of a deployment: its application and options; the deployment, made only when the key is new)
Make = Callable[[argparse.Namespace, Application], tuple[str, Callable[[], Deployment]]]
# A backend's own actions (and serve) on the panel's deployment.
Command = Callable[[argparse.Namespace, Any, int], Any]

_PANELS: dict[tuple[str, str], DeployPanel] = {}  # one panel (and one deployment) per backend and key


def _docker_make(args: argparse.Namespace, app: Application) -> tuple[str, Callable[[], Deployment]]:
    from .deploy_docker import docker_deployment

    return docker_deployment(args, app)


def _docker(args: argparse.Namespace, deployment: Any, workers: int) -> Any:
    from .deploy_docker import docker_command

    return docker_command(args, deployment, workers)


def _swarm_make(args: argparse.Namespace, app: Application) -> tuple[str, Callable[[], Deployment]]:
    from .deploy_swarm import swarm_deployment

    return swarm_deployment(args, app)


def _swarm(args: argparse.Namespace, deployment: Any, workers: int) -> Any:
    from .deploy_swarm import swarm_command

    return swarm_command(args, deployment, workers)


def _kubernetes_make(args: argparse.Namespace, app: Application) -> tuple[str, Callable[[], Deployment]]:
    from .deploy_kubernetes import kubernetes_deployment

    return kubernetes_deployment(args, app)


def _kubernetes(args: argparse.Namespace, deployment: Any, workers: int) -> Any:
    from .deploy_kubernetes import kubernetes_command

    return kubernetes_command(args, deployment, workers)


@dataclass(frozen=True)
class DeployBackend:
    """A backend of ``%scanflow deploy``: its ``--to`` name, the actions only it does (beside
    :data:`COMMON_ACTIONS`), how it makes its deployment, its command (serve and its own actions), and how it
    refuses another backend's action (``{action}`` filled in)."""

    name: str
    own_actions: tuple[str, ...]
    make: Make
    command: Command
    refused: str

    @property
    def actions(self) -> tuple[str, ...]:
        return (*COMMON_ACTIONS, *self.own_actions)

    def refusal(self, action: str) -> str:
        return self.refused.format(action=action)


BACKENDS: dict[str, DeployBackend] = {
    "docker": DeployBackend(
        "docker",
        ("compose", "stack"),
        _docker_make,
        _docker,
        "%scanflow deploy {action} is for Kubernetes: add --to kubernetes.",
    ),
    "kubernetes": DeployBackend(
        "kubernetes",
        ("export", "logs", "cancel"),
        _kubernetes_make,
        _kubernetes,
        "{action} files are for Docker; for Kubernetes use %scanflow deploy export --to kubernetes.",
    ),
    "swarm": DeployBackend(
        "swarm",
        ("export",),
        _swarm_make,
        _swarm,
        "%scanflow deploy {action} is not for a swarm stack (its file: %scanflow deploy export --to swarm); "
        "use --to docker or --to kubernetes.",
    ),
}


def deploy_command(args: argparse.Namespace, app: Application, workers: int) -> Any:
    """Do ``args.action`` on the backend ``args.to`` names; returns the panel, or what the action gives (a
    RunResult, an endpoint, a file's text...). Mistakes become ``UsageError`` (ScanflowErrors are turned into one
    by the magic)."""
    backend = BACKENDS[getattr(args, "to", "docker")]
    if args.action not in backend.actions:
        raise UsageError(backend.refusal(args.action))
    if getattr(args, "publish", None) is not None and backend.name == "kubernetes":
        raise UsageError(
            "--publish is for Docker (serve, compose, stack) and a swarm stack (--to swarm); on Kubernetes, "
            "services are reached through their Service (kubectl port-forward, or an Ingress you add)."
        )
    key, make = backend.make(args, app)
    panel = _PANELS.get((backend.name, key))
    if panel is None or panel.deployment.app is not app:
        panel = _PANELS[(backend.name, key)] = DeployPanel(make(), backend=backend.name)
    if args.action == "panel":
        return panel
    if args.action in PANEL_ACTIONS:
        return perform_shown(panel, args, workers)
    if args.action == "serve" and not args.target:
        where = "" if backend.name == "docker" else f" --to {backend.name}"
        raise UsageError(f"%scanflow deploy serve needs the service's name: %scanflow deploy serve NAME{where}.")
    return backend.command(args, panel.deployment, workers)
