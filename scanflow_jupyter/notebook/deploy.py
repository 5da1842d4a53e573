"""``%scanflow deploy``: the backends it can deploy to, each with the actions it does, and the dispatch to the
chosen one (``--to``, Docker by default).

Each backend's module (:mod:`.deploy_docker`, :mod:`.deploy_kubernetes`) is imported only when chosen, and
neither imports the other: what they share is :mod:`.deploy_shown`. An action a backend does not do is refused
here, before its deployment is made, with the backend that does it named.

Example
-------
>>> sorted(BACKENDS)
['docker', 'kubernetes']
>>> BACKENDS["docker"].refusal("logs")
'%scanflow deploy logs is for Kubernetes: add --to kubernetes.'
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from ..workflow import Application

__all__ = ["BACKENDS", "COMMON_ACTIONS", "DeployBackend", "deploy_command"]

# What every backend does, through its panel or directly.
COMMON_ACTIONS = ("panel", "build", "start", "run", "serve", "status", "stop", "cleanup")

Command = Callable[[argparse.Namespace, Application, int], Any]


def _docker(args: argparse.Namespace, app: Application, workers: int) -> Any:
    from .deploy_docker import docker_command

    return docker_command(args, app, workers)


def _kubernetes(args: argparse.Namespace, app: Application, workers: int) -> Any:
    from .deploy_kubernetes import kubernetes_command

    return kubernetes_command(args, app, workers)


@dataclass(frozen=True)
class DeployBackend:
    """A backend of ``%scanflow deploy``: its ``--to`` name, the actions only it does (beside
    :data:`COMMON_ACTIONS`), its command, and how it refuses another backend's action (``{action}`` filled in)."""

    name: str
    own_actions: tuple[str, ...]
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
        _docker,
        "%scanflow deploy {action} is for Kubernetes: add --to kubernetes.",
    ),
    "kubernetes": DeployBackend(
        "kubernetes",
        ("export", "logs", "cancel"),
        _kubernetes,
        "{action} files are for Docker; for Kubernetes use %scanflow deploy export --to kubernetes.",
    ),
}


def deploy_command(args: argparse.Namespace, app: Application, workers: int) -> Any:
    """Do ``args.action`` on the backend ``args.to`` names; returns the panel, or what the action gives (a
    RunResult, an endpoint, a file's text...). Mistakes become ``UsageError`` (ScanflowErrors are turned into one
    by the magic)."""
    backend = BACKENDS[getattr(args, "to", "docker")]
    if args.action not in backend.actions:
        raise UsageError(backend.refusal(args.action))
    if getattr(args, "publish", None) is not None and backend.name != "docker":
        raise UsageError(
            "--publish is for Docker (serve, compose, stack); on Kubernetes, services are reached through their "
            "Service (kubectl port-forward, or an Ingress you add)."
        )
    return backend.command(args, app, workers)
