"""``%scanflow deploy``: the current application on Docker, followed in a :class:`DeployPanel`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from ..workflow import Application
from .widgets.deploy import DeployPanel

_PANELS: dict[str, DeployPanel] = {}  # one panel (and one deployment) per application folder


def deploy_command(args: argparse.Namespace, app: Application, workers: int) -> Any:
    """Do ``args.action``; returns the panel, or what the action gives (a RunResult, an endpoint, a file's
    text...). Mistakes become ``UsageError`` (ScanflowErrors are turned into one by the magic)."""
    if getattr(args, "to", "docker") == "kubernetes":
        from .deploy_kubernetes import kubernetes_command

        return kubernetes_command(args, app, workers)
    if args.action in ("export", "logs", "cancel"):
        raise UsageError(f"%scanflow deploy {args.action} is for Kubernetes: add --to kubernetes.")
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
    if action in ("compose", "stack"):
        text = deployment.compose(args.output) if action == "compose" else deployment.stack(args.output)
        if args.output:
            print(f"wrote {Path(args.output)}")
            return None
        print(text, end="")
        return None
    if action == "serve":
        endpoint = deployment.serve(args.target, port=args.port)
        print(f"{endpoint.service} healthy at {endpoint.url}/invocations")
        return endpoint
    return perform_shown(panel, args, workers)


def perform_shown(panel: DeployPanel, args: argparse.Namespace, workers: int) -> Any:
    """Show ``panel`` and do ``args.action`` (build, up, run, down, status, cleanup) through it, on any backend;
    returns a run's result, else None. A failed run becomes a ``UsageError``."""
    action = args.action
    display(panel)  # type: ignore[no-untyped-call]
    options: dict[str, Any] = {}
    if action == "run":
        options = {"workflow": args.target, "workers": args.workers or workers, "force": args.force}
    result = panel.perform(action, **options)
    if action == "run":
        print(f"{result.run_id} {result.status} {dict((a, s.value) for a, s in result.states.items())}")
        if not result.ok:
            raise UsageError(panel.error or f"run {result.run_id} {result.status}")
        return result
    if action in ("status", "cleanup"):
        print(result)
        return None
    print(panel.message)
    return None
