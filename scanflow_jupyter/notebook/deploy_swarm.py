"""``%scanflow deploy --to swarm``: the current application as a stack on this engine's swarm; chosen by
:mod:`.deploy`, which does the actions every deployment does through its panel (build, start: deploy the stack,
status, stop, clean up; a batch run is refused, naming the Docker backend). Here: the deployment made from the
options, and serve and export (the stack file)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..workflow import Application

if TYPE_CHECKING:
    from ..deploy.docker import SwarmApp

__all__ = ["swarm_command", "swarm_deployment"]


def swarm_deployment(args: argparse.Namespace, app: Application) -> tuple[str, Callable[[], SwarmApp]]:
    """The key of the deployment ``args`` ask for (the application's folder, the build options and where the
    services publish), and how to make it."""
    from ..deploy.docker import SwarmApp

    key = f"{app.folder}:{args.base_image}:{args.ca_bundle}:{args.publish}"
    return key, lambda: SwarmApp(app, publish=args.publish, base_image=args.base_image, ca_bundle=args.ca_bundle)


def swarm_command(args: argparse.Namespace, deployment: SwarmApp, workers: int) -> Any:
    """Do ``args.action`` (serve, export) on the stack; returns the endpoint, or None for the stack file (printed
    or written). ScanflowErrors are turned into ``UsageError`` by the magic."""
    del workers  # no batch run on a swarm
    if args.action == "serve":
        endpoint = deployment.serve(args.target)
        print(f"{endpoint.service} running at {endpoint.url} ({endpoint.name})")
        return endpoint
    text = deployment.export(args.output)
    print(f"wrote {Path(args.output)}" if args.output else text, end="\n" if args.output else "")
    return None
