"""``scanflow kubernetes ...``, ``scanflow export --to kubernetes`` and ``scanflow deploy --to kubernetes``: the
Kubernetes backend from the terminal. Registered on the main command by :mod:`scanflow_jupyter.cli`; loads
nothing heavy until a command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from .common import APP_ARG, Progress, guard, param_overrides, progress_line, report

__all__ = ["deploy_kubernetes", "export_kubernetes", "kube_options", "kubernetes", "make"]


def kube_options(fn: Any) -> Any:
    """Where the application goes and which images it runs (shared by every Kubernetes command)."""
    options = [
        click.option("--namespace", help="Namespace to use (default: scanflow-APP, created and removed with it)."),
        click.option("--registry", help="Registry the cluster pulls from; built images are pushed there."),
        click.option("--tag", help="Use images already pushed under this tag (no build)."),
        click.option(
            "--image-pull-secret", "image_pull_secrets", multiple=True, help="A docker-registry Secret for pulls."
        ),
        click.option("--kubeconfig", type=click.Path(path_type=Path), help="Kubeconfig (default: KUBECONFIG)."),
        click.option("--context", help="Kubeconfig context (default: its current one)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def make(app: Path, **kw: Any) -> Any:
    """A :class:`KubernetesApp` from the command's options (unknown keys are the caller's, ignored)."""
    from ..deploy.kubernetes import KubernetesApp
    from ..workflow import load

    keys = ("namespace", "registry", "tag", "image_pull_secrets", "kubeconfig", "context", "engine")
    chosen = {k: v for k, v in kw.items() if k in keys and v not in (None, ())}
    docker = {k: kw[k] for k in ("base_image", "ca_bundle", "pip_index_url") if kw.get(k) is not None}
    return KubernetesApp(load(app), docker=docker, **chosen)


def export_kubernetes(app: Path, output: Path | None, **kw: Any) -> None:
    """``scanflow export --to kubernetes``: every manifest and the Argo Workflows as YAML (a folder with -o)."""
    deployment = make(app, **kw)
    if output is None:
        click.echo(deployment.export(), nl=False)
        return
    written = deployment.export(output)
    if Path(written).is_file():
        click.echo(
            f"wrote {written} (kubectl apply the objects; its Argo Workflows have a generateName: 'argo submit' or "
            "'kubectl create' them, each submission is a new run)",
            err=True,
        )
        return
    click.echo(f"wrote {written} (kubectl apply -f {written}; argo submit {written}/argo/WORKFLOW.yaml)", err=True)


def deploy_kubernetes(app: Path, output: Path | None, **kw: Any) -> None:
    """``scanflow deploy --to kubernetes``: build and push the images (unless --tag), apply the namespace,
    RBAC, volumes, spec and tracker, and serve every online service; -o also writes the manifests."""
    from ..workflow import Service, Workflow

    deployment = make(app, **kw)
    if deployment.tag is None:
        click.echo("building images", err=True)
        deployment.build(on_event=progress_line)
    if output is not None:
        deployment.export(output)
    click.echo(f"deploying to namespace {deployment.namespace}", err=True)
    from ..tracking.store import redact

    click.echo(f"tracker: {redact(deployment.start(on_event=progress_line) or '')}")
    for wf in deployment.app.workflows:
        for address, node in Workflow.leaves(wf).items():
            if isinstance(node, Service):
                click.echo(f"{address}: {deployment.serve(address, on_event=progress_line).url}")


@click.group("kubernetes")
def kubernetes() -> None:
    """Deploy, run and follow an application on a Kubernetes cluster (KUBECONFIG)."""


@kubernetes.command("run")
@APP_ARG
@click.option("-w", "--workflow", help="Workflow to run (needed when the application has several).")
@kube_options
@click.option("--engine", type=click.Choice(["argo", "jobs"]), default="argo", show_default=True)
@click.option("-p", "--param", "params", multiple=True, metavar="STEP.NAME=VALUE", help="Override a parameter.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="jobs: steps at once.")
@click.option("--tracker-url", help="jobs: the tracker as this machine reaches it (default: kubectl port-forward).")
@click.option("--no-tracking", is_flag=True, help="jobs: do not record the run's MLflow run tree here.")
@click.option("--logs", is_flag=True, help="Print the steps' output.")
@guard
def run(
    app: Path,
    workflow: str | None,
    params: tuple[str, ...],
    workers: int,
    tracker_url: str | None,
    no_tracking: bool,
    logs: bool,
    **kw: Any,
) -> None:
    """Run a batch workflow on the cluster: one Argo Workflow (default) or Jobs through the scheduler."""
    from ..deploy.kubernetes.argo import default_batch

    deployment = make(app, **kw)
    progress = Progress(len(deployment.app.workflow(workflow or default_batch(deployment.app)).leaves()))
    started = time.time()
    on_log = (lambda node, _stream, line: click.echo(f"  [{node}] {line}", err=True)) if logs else None
    try:
        result = deployment.run(
            workflow,
            params=param_overrides(params),
            workers=workers,
            check=False,
            on_event=progress,
            on_progress=progress_line,
            on_log=on_log,
            tracker_url=tracker_url,
            tracking=not no_tracking,
        )
    finally:
        progress.close()
        deployment.close()
    report(result, started)


@kubernetes.command("status")
@APP_ARG
@kube_options
@guard
def status(app: Path, **kw: Any) -> None:
    """List the application's objects on the cluster (found by label)."""
    click.echo(str(make(app, **kw).status()))


@kubernetes.command("logs")
@APP_ARG
@click.option("--node", help="Only this step (its address, e.g. modeling/linear).")
@click.option("--run", "run_id", help="Only this run (an Argo Workflow's name or a Jobs run's id).")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N lines of each pod.")
@kube_options
@guard
def logs(app: Path, node: str | None, run_id: str | None, tail: int | None, **kw: Any) -> None:
    """Print the step pods' logs, one section per pod."""
    for pod, text in make(app, **kw).logs(node, run_id, tail).items():
        click.echo(f"==> {pod} <==")
        click.echo(text, nl=not text.endswith("\n"))


@kubernetes.command("cancel")
@APP_ARG
@click.argument("run_id")
@kube_options
@guard
def cancel(app: Path, run_id: str, **kw: Any) -> None:
    """Stop a run: terminate an Argo Workflow, or delete a Jobs run's running Jobs."""
    for line in make(app, **kw).cancel(run_id) or ["nothing was running"]:
        click.echo(line)


@kubernetes.command("delete")
@APP_ARG
@kube_options
@guard
def delete(app: Path, **kw: Any) -> None:
    """Delete everything the application created on the cluster (by label), and its namespace if scanflow
    created it. Nothing else is touched."""
    click.echo(str(make(app, **kw).cleanup()))
