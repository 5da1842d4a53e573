"""``%scanflow deploy`` (``--to docker``, the default): the current application on Docker, followed in a
:class:`DeployPanel`; chosen by :mod:`.deploy`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ..workflow import Application
from .deploy_shown import perform_shown
from .widgets.deploy import DeployPanel

__all__ = ["docker_command"]

_PANELS: dict[str, DeployPanel] = {}  # one panel (and one deployment) per application folder


def docker_command(args: argparse.Namespace, app: Application, workers: int) -> Any:
    """Do ``args.action`` on Docker; returns the panel, or what the action gives (a RunResult, an endpoint, a
    file's text...). Mistakes become ``UsageError`` (ScanflowErrors are turned into one by the magic)."""
    from ..deploy.docker import DockerApp

    key = f"{app.folder}:{args.base_image}:{args.ca_bundle}"
    panel = _PANELS.get(key)
    if panel is None or panel.deployment.app is not app:
        deployment = DockerApp(app, base_image=args.base_image, ca_bundle=args.ca_bundle)
        panel = _PANELS[key] = DeployPanel(deployment)
    deployment = panel.deployment
    action = args.action
    if action in ("serve",) and not args.target:
        raise UsageError("%scanflow deploy serve needs the service's name: %scanflow deploy serve NAME.")
    if action == "panel":
        return panel
    published = {} if args.publish is None else {"publish": args.publish}  # else the backend's safe default
    if action in ("compose", "stack"):
        text = (deployment.compose if action == "compose" else deployment.stack)(args.output, **published)
        if args.output:
            print(f"wrote {Path(args.output)}")
            return None
        print(text, end="")
        return None
    if action == "serve":
        endpoint = deployment.serve(args.target, port=args.port, **published)
        print(f"{endpoint.service} healthy at {endpoint.url}/invocations")
        return endpoint
    return perform_shown(panel, args, workers)
