"""``scanflow swarm ...``: an application's stack on this engine's swarm, from the terminal (``scanflow deploy
--to swarm`` deploys it): its status and its stop. Loads nothing heavy until a command runs."""

from __future__ import annotations

from pathlib import Path

import click

from .common import APP_ARG, guard, load

__all__ = ["swarm"]


@click.group("swarm")
def swarm() -> None:
    """Follow and stop an application's swarm stack (deploy it with 'scanflow deploy APP --to swarm')."""


@swarm.command("status")
@APP_ARG
@guard
def swarm_status(app: Path) -> None:
    """List the stack's swarm services with their replicas, and the application's other objects (by label)."""
    from ..deploy.docker import SwarmApp

    click.echo(str(SwarmApp(load(app)).status()))


@swarm.command("stop")
@APP_ARG
@click.option("--all", "everything", is_flag=True, help="Also remove its images, volumes and network.")
@guard
def swarm_stop(app: Path, everything: bool) -> None:
    """Remove the stack's services (its volumes stay: the tracker's runs and models); with --all remove
    everything the application created, and nothing else."""
    from ..deploy.docker import SwarmApp

    deployment = SwarmApp(load(app))
    if everything:
        click.echo(str(deployment.cleanup()))
        return
    removed = deployment.stop()
    for name in removed:
        click.echo(f"removed {name}")
    if not removed:
        click.echo("nothing was running")
