"""The ``scanflow`` command: the same services as the notebook, without IPython.

Exit codes: 0 success; 1 a run failed (a step failed or timed out); 2 bad input (an invalid application,
a bad option, an unknown run); 130 interrupted (Ctrl-C).

One module per concept, each importing :mod:`.common` (the shared helpers): :mod:`.local` (validate, plot,
run, resume, status, runs, show), :mod:`.export`, :mod:`.deploy` (its targets done by the backends' modules),
:mod:`.docker` (``scanflow docker ...``), :mod:`.kubernetes` (``scanflow kubernetes ...``) and :mod:`.swarm`
(``scanflow swarm ...``), which never import each other. This module only assembles the command group;
``python -m scanflow_jupyter.cli`` runs it.
"""

from __future__ import annotations

import click

from . import deploy, docker, export, kubernetes, local, swarm

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scanflow-jupyter", prog_name="scanflow")
def main() -> None:
    """Define, plot, run and track ML workflows (an application folder holds scanflow.yaml)."""


for _command in (
    local.validate,
    local.plot,
    local.run,
    local.resume,
    local.status,
    local.runs,
    local.show,
    export.export,
    docker.docker,
    deploy.deploy,
    kubernetes.kubernetes,
    swarm.swarm,
):
    main.add_command(_command)
