"""``%scanflow deploy`` (``--to docker``, the default): the current application on Docker; chosen by
:mod:`.deploy`, which does the actions every deployment does through its panel. Here: the deployment made from
the options, and what only Docker does (serve on an address, compose files, swarm stacks)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..workflow import Application

if TYPE_CHECKING:
    from ..deploy.docker import DockerApp

__all__ = ["docker_command", "docker_deployment"]


def docker_deployment(args: argparse.Namespace, app: Application) -> tuple[str, Callable[[], DockerApp]]:
    """The key of the deployment ``args`` ask for (the application's folder and the build options), and how to
    make it."""
    from ..deploy.docker import DockerApp

    key = f"{app.folder}:{args.base_image}:{args.ca_bundle}"
    return key, lambda: DockerApp(app, base_image=args.base_image, ca_bundle=args.ca_bundle)


def docker_command(args: argparse.Namespace, deployment: DockerApp, workers: int) -> Any:
    """Do ``args.action`` (serve, compose, stack) on Docker; returns the endpoint, or None for a file's text
    (printed or written). ScanflowErrors are turned into ``UsageError`` by the magic."""
    from ..deploy.docker.client import publish_keyword

    del workers  # no batch run here: runs go through the panel
    published = publish_keyword(args.publish)
    if args.action == "serve":
        endpoint = deployment.serve(args.target, port=args.port, **published)
        print(f"{endpoint.service} healthy at {endpoint.url}/invocations")
        return endpoint
    text = (deployment.compose if args.action == "compose" else deployment.stack)(args.output, **published)
    if args.output:
        print(f"wrote {Path(args.output)}")
        return None
    print(text, end="")
    return None
