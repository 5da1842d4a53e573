"""``%scanflow deploy --to kubernetes``: the current application on a cluster, followed in a
:class:`DeployPanel` (the same panel as Docker's: build and push, start, run, stop, clean up, status); chosen by
:mod:`.deploy`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ..workflow import Application
from .deploy_shown import perform_shown
from .widgets.deploy import DeployPanel

__all__ = ["kubernetes_command"]

_PANELS: dict[str, DeployPanel] = {}  # one panel (and one deployment) per application and target


def kubernetes_command(args: argparse.Namespace, app: Application, workers: int) -> Any:
    """Do ``args.action`` on the cluster; returns the panel, or what the action gives (a run's result, a
    service's URL, the logs...). ScanflowErrors are turned into ``UsageError`` by the magic."""
    from ..deploy.kubernetes import KubernetesApp

    secrets = tuple(args.image_pull_secret or ())
    key = f"{app.folder}:{args.namespace}:{args.registry}:{args.tag}:{secrets}:{args.engine}"
    panel = _PANELS.get(key)
    if panel is None or panel.deployment.app is not app:
        docker = {k: v for k, v in (("base_image", args.base_image), ("ca_bundle", args.ca_bundle)) if v}
        deployment = KubernetesApp(
            app,
            namespace=args.namespace,
            registry=args.registry,
            tag=args.tag,
            image_pull_secrets=secrets,
            engine=args.engine,
            docker=docker,
        )
        panel = _PANELS[key] = DeployPanel(deployment, backend="kubernetes")
    deployment = panel.deployment
    action = args.action
    if action == "serve" and not args.target:
        raise UsageError(
            "%scanflow deploy serve needs the service's name: %scanflow deploy serve NAME --to kubernetes."
        )
    if action == "panel":
        return panel
    if action == "export":
        text = deployment.export(args.output)
        print(f"wrote {Path(args.output)}" if args.output else text, end="\n" if args.output else "")
        return None
    if action == "serve":
        url = deployment.serve(args.target)
        print(f"{args.target} ready at {url} (in the cluster)")
        return url
    if action == "logs":
        found = deployment.logs(args.target)
        for pod, text in found.items():
            print(f"==> {pod} <==\n{text}", end="" if text.endswith("\n") else "\n")
        return None
    if action == "cancel":
        print("\n".join(deployment.cancel(args.target)) or "nothing was running")
        return None
    return perform_shown(panel, args, workers)
