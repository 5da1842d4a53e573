"""``scanflow docker ...``: the Docker backend from the terminal (images, runs, services, status, clean-up), and
the options and build progress that ``scanflow deploy`` shares. Loads nothing heavy until a command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from .common import APP_ARG, WORKFLOW_OPT, Progress, guard, load, param_overrides, progress_line, report

__all__ = ["docker", "docker_options", "make", "publish_option"]


def docker_options(fn: Any) -> Any:
    """How images are built (shared by every command that builds: ``docker ...`` and ``deploy``)."""
    fn = click.option("--base-image", help="Base of generated images (default: SCANFLOW_BASE_IMAGE).")(fn)
    ca_path = click.Path(dir_okay=False, path_type=Path)
    fn = click.option("--ca-bundle", type=ca_path, help="Extra CA bundle for pip in builds.")(fn)
    fn = click.option("--pip-index-url", help="pip's index inside builds.")(fn)
    return fn


def publish_option(fn: Any) -> Any:
    """``--publish ADDRESS``: where services publish their ports (shared by ``docker serve`` and ``deploy``)."""
    return click.option(
        "--publish",
        metavar="ADDRESS",
        help="Host address to publish services' ports on. Default: 127.0.0.1 (this machine only) for a served "
        "model and a compose file, no port for a swarm stack. 0.0.0.0 opens them to the network: the scoring "
        "server has no authentication.",
    )(fn)


def make(app: Path, base_image: str | None, ca_bundle: Path | None, pip_index_url: str | None) -> Any:
    """A :class:`DockerApp` of the application in ``app`` from the command's options."""
    from ..deploy.docker import DockerApp

    return DockerApp(load(app), base_image=base_image, ca_bundle=ca_bundle, pip_index_url=pip_index_url)


@click.group("docker")
def docker() -> None:
    """Build images, run and serve an application on the local Docker engine."""


@docker.command("base-image")
@click.option("--name", default="scanflow/debian-python:bookworm", show_default=True, help="Image name to create.")
@click.option("--suite", default="bookworm", show_default=True, help="Debian release.")
@click.option("--mirror", help="Debian mirror (default: the first one in this machine's apt sources).")
@guard
def docker_base_image(name: str, suite: str, mirror: str | None) -> None:
    """Build a Python base image offline from a Debian root filesystem (debootstrap; needs root)."""
    from ..deploy.docker import build_base_image

    build_base_image(name, suite=suite, mirror=mirror, on_line=lambda line: click.echo(line, err=True))
    click.echo(name)


@docker.command("build")
@APP_ARG
@docker_options
@guard
def docker_build(app: Path, base_image: str | None, ca_bundle: Path | None, pip_index_url: str | None) -> None:
    """Build the images of every executor, service and the tracker (only those missing)."""
    images = make(app, base_image, ca_bundle, pip_index_url).build(on_event=progress_line)
    for node, image in images.items():
        click.echo(f"{node}\t{image}")


@docker.command("run")
@APP_ARG
@WORKFLOW_OPT
@docker_options
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Steps run at once.")
@click.option("--force", is_flag=True, help="Run every step, even those whose cached result is valid.")
@click.option("-p", "--param", "params", multiple=True, metavar="STEP.NAME=VALUE", help="Override a parameter.")
@click.option("--logs", is_flag=True, help="Print the steps' output as it comes.")
@guard
def docker_run(
    app: Path,
    workflow: str | None,
    base_image: str | None,
    ca_bundle: Path | None,
    pip_index_url: str | None,
    workers: int,
    force: bool,
    params: tuple[str, ...],
    logs: bool,
) -> None:
    """Run a workflow with each step in a container, tracked by the application's tracker container."""
    deployment = make(app, base_image, ca_bundle, pip_index_url)
    progress = Progress(len(deployment.app.workflow(workflow).leaves()))
    started = time.time()
    on_log = (lambda node, _stream, line: click.echo(f"  [{node}] {line}", err=True)) if logs else None
    try:
        result = deployment.run(
            workflow,
            workers=workers,
            force=force,
            params=param_overrides(params),
            check=False,
            on_event=progress,
            on_progress=progress_line,
            on_log=on_log,
        )
    finally:
        progress.close()
    from ..tracking.store import redact

    click.echo(f"tracker: {redact(deployment.tracker_uri() or '')}", err=True)
    report(result, started)


@docker.command("serve")
@APP_ARG
@click.argument("service")
@docker_options
@click.option("--port", type=click.IntRange(1, 65535), help="Port to publish (default: the service's).")
@publish_option
@guard
def docker_serve(
    app: Path,
    service: str,
    base_image: str | None,
    ca_bundle: Path | None,
    pip_index_url: str | None,
    port: int | None,
    publish: str | None,
) -> None:
    """Serve a Service node's model in a container and wait for its health check."""
    deployment = make(app, base_image, ca_bundle, pip_index_url)
    from ..deploy.docker.client import publish_keyword

    endpoint = deployment.serve(service, port=port, on_event=progress_line, **publish_keyword(publish))
    click.echo(f"{endpoint.service} healthy at {endpoint.url}/invocations")


@docker.command("status")
@APP_ARG
@guard
def docker_status(app: Path) -> None:
    """List the application's containers, images, volumes and networks (found by label)."""
    click.echo(str(make(app, None, None, None).status()))


@docker.command("stop")
@APP_ARG
@click.option("--all", "everything", is_flag=True, help="Also remove its images, volumes and network.")
@guard
def docker_stop(app: Path, everything: bool) -> None:
    """Stop the application's containers; with --all remove everything it created, and nothing else."""
    deployment = make(app, None, None, None)
    if everything:
        click.echo(str(deployment.cleanup()))
    else:
        for name in deployment.stop():
            click.echo(f"removed {name}")
