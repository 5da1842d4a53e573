"""``scanflow export``: the application as canonical YAML, JSON, its JSON Schema, DOT, or Kubernetes manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .common import APP_ARG, WORKFLOW_OPT, guard, load, write_or_echo
from .kubernetes import export_kubernetes, kube_options


@click.command()
@APP_ARG
@click.option(
    "--to",
    "target",
    type=click.Choice(["yaml", "json", "schema", "dot", "kubernetes"]),
    default="yaml",
    show_default=True,
)
@WORKFLOW_OPT
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
@kube_options
@guard
def export(app: Path, target: str, workflow: str | None, output: Path | None, **kube: Any) -> None:
    """Export the application: canonical YAML, JSON, the JSON Schema of scanflow.yaml, DOT, or (--to kubernetes)
    every Kubernetes manifest and the Argo Workflows (a folder of files with -o)."""
    from ..workflow import dump_json, dump_yaml, json_schema

    if target == "kubernetes":
        export_kubernetes(app, output, **kube)
        return
    if target == "schema":
        text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    else:
        application = load(app)
        if target == "yaml":
            text = dump_yaml(application)
        elif target == "json":
            text = dump_json(application)
        else:
            text = application.plot(workflow).source
    write_or_echo(text, output)
