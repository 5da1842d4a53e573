"""``scanflow deploy``: a compose file or a swarm stack, a swarm deployment, or a Kubernetes deployment; each
target's work is done by its backend's command module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import APP_ARG, guard, load, progress_line, write_or_echo
from .docker import docker_options, publish_option
from .docker import make as make_docker
from .kubernetes import deploy_kubernetes, kube_options


@click.command()
@APP_ARG
@click.option(
    "--to",
    "target",
    type=click.Choice(["compose", "stack", "swarm", "kubernetes"]),
    default="compose",
    show_default=True,
)
@docker_options
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the file here (default: stdout).")
@publish_option
@kube_options
@guard
def deploy(
    app: Path,
    target: str,
    base_image: str | None,
    ca_bundle: Path | None,
    pip_index_url: str | None,
    output: Path | None,
    publish: str | None,
    **kube: Any,
) -> None:
    """Export a compose file or a swarm stack, or (--to swarm) build, deploy the stack and report replicas, or
    (--to kubernetes) build and push the images, deploy the namespace, tracker and services on the cluster."""
    if target == "kubernetes":
        if publish is not None:
            raise click.UsageError(
                "--publish applies to --to compose, stack and swarm; on Kubernetes, services are reached through "
                "their Service (kubectl port-forward, or an Ingress you add)."
            )
        deploy_kubernetes(app, output, base_image=base_image, ca_bundle=ca_bundle, pip_index_url=pip_index_url, **kube)
        return
    if target == "swarm":
        from ..deploy.docker import SwarmApp

        swarm = SwarmApp(
            load(app), publish=publish, stack_path=output, base_image=base_image, ca_bundle=ca_bundle,
            pip_index_url=pip_index_url,
        )  # fmt: skip
        swarm.start(on_event=progress_line)
        for name, count in swarm.engine.replicas().items():
            click.echo(f"{name}\t{count}")
        return
    from ..deploy.docker.client import publish_keyword

    published = publish_keyword(publish)
    deployment = make_docker(app, base_image, ca_bundle, pip_index_url)
    text = deployment.compose(**published) if target == "compose" else deployment.stack(**published)
    write_or_echo(text, output)
