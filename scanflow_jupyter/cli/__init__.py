"""The ``scanflow`` command: the same services as the notebook, without IPython.

Exit codes: 0 success; 1 a run failed (a step failed or timed out); 2 bad input (an invalid application,
a bad option, an unknown run); 130 interrupted (Ctrl-C).

One module per concept, each importing :mod:`.common` (the shared helpers) and never a sibling backend's module:
:mod:`.local` (validate, plot, run, resume, status, runs), :mod:`.export`, :mod:`.deploy` (its targets done by
:mod:`.docker` and :mod:`.kubernetes`), :mod:`.docker` (``scanflow docker ...``), :mod:`.kubernetes`
(``scanflow kubernetes ...``). This module only assembles the command group.
"""

from __future__ import annotations

import click

from . import deploy, docker, export, kubernetes, local

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
    export.export,
    docker.docker,
    deploy.deploy,
    kubernetes.kubernetes,
):
    main.add_command(_command)
