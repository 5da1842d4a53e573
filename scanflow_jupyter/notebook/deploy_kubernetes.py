"""``%scanflow deploy --to kubernetes``: the current application on a cluster; chosen by :mod:`.deploy`, which
does the actions every deployment does through its panel (the same panel as Docker's: build and push, start,
run, stop, clean up, status). Here: the deployment made from the options, and what only a cluster does (export
its manifests, logs, cancel) with serve."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..workflow import Application

if TYPE_CHECKING:
    from ..deploy.kubernetes import KubernetesApp

__all__ = ["kubernetes_command", "kubernetes_deployment"]


def kubernetes_deployment(args: argparse.Namespace, app: Application) -> tuple[str, Callable[[], KubernetesApp]]:
    """The key of the deployment ``args`` ask for (application, namespace, registry, tag, secrets, engine), and
    how to make it."""
    from ..deploy.kubernetes import KubernetesApp

    secrets = tuple(args.image_pull_secret or ())
    key = f"{app.folder}:{args.namespace}:{args.registry}:{args.tag}:{secrets}:{args.engine}"
    docker = {k: v for k, v in (("base_image", args.base_image), ("ca_bundle", args.ca_bundle)) if v}
    return key, lambda: KubernetesApp(
        app,
        namespace=args.namespace,
        registry=args.registry,
        tag=args.tag,
        image_pull_secrets=secrets,
        engine=args.engine,
        docker=docker,
    )


def kubernetes_command(args: argparse.Namespace, deployment: KubernetesApp, workers: int) -> Any:
    """Do ``args.action`` (serve, export, logs, cancel) on the cluster; returns a service's endpoint, else None.
    ScanflowErrors are turned into ``UsageError`` by the magic."""
    del workers  # no batch run here: runs go through the panel
    action = args.action
    if action == "export":
        text = deployment.export(args.output)
        print(f"wrote {Path(args.output)}" if args.output else text, end="\n" if args.output else "")
        return None
    if action == "serve":
        endpoint = deployment.serve(args.target)
        print(f"{endpoint.service} ready at {endpoint.url} (in the cluster)")
        return endpoint
    if action == "logs":
        found = deployment.logs(args.target)
        for pod, text in found.items():
            print(f"==> {pod} <==\n{text}", end="" if text.endswith("\n") else "\n")
        return None
    print("\n".join(deployment.cancel(args.target)) or "nothing was running")
    return None
