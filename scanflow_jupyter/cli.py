"""The ``scanflow`` command: the same services as the notebook, without IPython.

Exit codes: 0 success; 1 a run failed (a step failed or timed out); 2 bad input (an invalid application,
a bad option, an unknown run); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click

from .cli_kubernetes import kube_options

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

APP_ARG = click.argument("app", default=".", type=click.Path(file_okay=True, dir_okay=True, path_type=Path))
WORKFLOW_OPT = click.option("-w", "--workflow", help="Workflow to use (needed when the application has several).")


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def _load(path: Path) -> Any:
    from .workflow import load

    return load(path)


class Progress:
    """Terminal progress for a run: one line per step state change and a bar of finished steps."""

    SYMBOLS: ClassVar[dict[str, str]] = {
        "running": "▶",
        "succeeded": "✓",
        "failed": "✗",
        "skipped": "-",
        "cached": "↺",
        "cancelled": "■",
    }

    def __init__(self, total: int, quiet: bool = False) -> None:
        from tqdm import tqdm

        self.quiet = quiet
        self.bar = tqdm(
            total=total, unit="step", file=sys.stderr, disable=quiet or not sys.stderr.isatty(), leave=False
        )
        self.started: dict[str, float] = {}

    def __call__(self, event: Any) -> None:
        from tqdm import tqdm

        if event.kind == "log" and not self.quiet:
            tqdm.write(f"  · {event.node or ''} {event.message}".rstrip(), file=sys.stderr)
        if event.kind != "node" or event.state is None:
            return
        state = event.state.value
        if state == "running":
            self.started[event.node] = event.time
        if state in ("queued", "pending"):
            return
        if event.state.done:
            self.bar.update(1)
        if self.quiet:
            return
        took = (
            f" ({event.time - self.started[event.node]:.1f} s)"
            if event.node in self.started and event.state.done
            else ""
        )
        detail = f": {event.message.splitlines()[0]}" if event.message and state in ("failed", "skipped") else ""
        tqdm.write(f"  {self.SYMBOLS.get(state, '?')} {event.node} {state}{took}{detail}", file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scanflow-jupyter", prog_name="scanflow")
def main() -> None:
    """Define, plot, run and track ML workflows (an application folder holds scanflow.yaml)."""


def _guard(fn: Any) -> Any:
    """Turn scanflow errors into a clear message and an exit code, never a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .errors import RunError, ScanflowError

        try:
            return fn(*args, **kwargs)
        except RunError as exc:
            _fail(str(exc), EXIT_FAILED if not type(exc).__name__.startswith("Run") else EXIT_USAGE)
        except ScanflowError as exc:
            _fail(str(exc))

    return wrapper


@main.command()
@APP_ARG
@_guard
def validate(app: Path) -> None:
    """Check an application and list every problem found."""
    application = _load(app)
    application.validate()
    steps = sum(len(wf.leaves()) for wf in application.workflows)
    click.echo(f"{application.name}: valid ({len(application.workflows)} workflow(s), {steps} step(s))")


@main.command()
@APP_ARG
@WORKFLOW_OPT
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write to a file: .dot, or .svg/.png (needs Graphviz's dot).",
)
@click.option("--run", "run_id", help="Colour the steps by the states of this run (default: pending).")
@_guard
def plot(app: Path, workflow: str | None, output: Path | None, run_id: str | None) -> None:
    """Draw a workflow as DOT (nested workflows as clusters)."""
    from .engine import status as run_status

    application = _load(app)
    states: dict[str, str] = {}
    if run_id:
        states = {a: r.state for a, r in run_status(application, run_id).nodes.items()}
    graph = application.plot(workflow, states=states)
    if output is None or output.suffix == ".dot":
        if output is None:
            click.echo(graph.source)
        else:
            output.write_text(graph.source)
            click.echo(f"wrote {output}")
        return
    import graphviz

    try:
        written = graph.render(outfile=output, cleanup=True)
    except graphviz.ExecutableNotFound:
        _fail(
            f"rendering {output.suffix} needs Graphviz's 'dot' program (apt-get install graphviz); write a .dot "
            "file instead, or plot in the notebook, which renders in the browser"
        )
    click.echo(f"wrote {written}")


def _params(values: tuple[str, ...]) -> dict[str, str]:
    from .engine.params_resolve import parse_override

    return dict(parse_override(v) for v in values)


def _report(result: Any, started: float) -> None:
    summary: dict[str, int] = {}
    for state in result.states.values():
        summary[state.value] = summary.get(state.value, 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.items()))
    colour = "green" if result.ok else "red"
    click.secho(f"run {result.run_id} {result.status} in {time.time() - started:.1f} s ({counts})", fg=colour, err=True)
    for error in result.errors.values():
        click.secho(f"error: {error}", fg="red", err=True)
    if not result.ok:
        if result.status == "cancelled":
            click.echo(f"resume it with: scanflow resume {result.state.folder} {result.run_id}", err=True)
        sys.exit(EXIT_INTERRUPTED if result.status == "cancelled" else EXIT_FAILED)


@main.command()
@APP_ARG
@WORKFLOW_OPT
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Steps run at once.")
@click.option("--force", is_flag=True, help="Run every step, even those whose cached result is valid.")
@click.option("-p", "--param", "params", multiple=True, metavar="STEP.NAME=VALUE", help="Override a parameter.")
@click.option("--no-tracking", is_flag=True, help="Do not record the run in MLflow.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary.")
@_guard
def run(
    app: Path, workflow: str | None, workers: int, force: bool, params: tuple[str, ...], no_tracking: bool, quiet: bool
) -> None:
    """Run a workflow locally, each step tracked as a child MLflow run."""
    from .engine import run as run_workflow

    application = _load(app)
    overrides = _params(params)
    application.validate()
    total = len(application.workflow(workflow).leaves())
    progress = Progress(total, quiet)
    started = time.time()
    try:
        result = run_workflow(
            application,
            workflow,
            workers=workers,
            force=force,
            params=overrides,
            tracking=not no_tracking,
            check=False,
            on_event=progress,
        )
    finally:
        progress.close()
    _report(result, started)


@main.command()
@APP_ARG
@click.argument("run_id", required=False)
@click.option("--workers", type=click.IntRange(min=1), help="Steps run at once (default: as the run was started).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary.")
@_guard
def resume(app: Path, run_id: str | None, workers: int | None, quiet: bool) -> None:
    """Finish a failed or killed run (the latest by default); finished steps are not run again."""
    from .engine import resume as resume_run

    application = _load(app)
    progress = Progress(sum(1 for _ in application.workflows[0].leaves()) if application.workflows else 0, quiet)
    started = time.time()
    try:
        result = resume_run(application, run_id, workers=workers, check=False, on_event=progress)
    finally:
        progress.close()
    _report(result, started)


@main.command()
@APP_ARG
@click.argument("run_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the run state as JSON.")
@_guard
def status(app: Path, run_id: str | None, as_json: bool) -> None:
    """Show the state of each step of a run (the latest by default)."""
    from dataclasses import asdict

    from .engine import status as run_status

    state = run_status(_load(app), run_id)
    if as_json:
        click.echo(json.dumps(asdict(state), indent=2))
        return
    click.echo(f"run {state.run_id} ({state.workflow}): {state.status}")
    for address, rec in state.nodes.items():
        took = f"{rec.finished - rec.started:.1f} s" if rec.started and rec.finished else ""
        line = f"  {address:<30} {rec.state:<10} {took:>8}"
        if rec.error:
            line += f"  {rec.error.splitlines()[0]}"
        click.echo(line)
    if state.status in ("failed", "interrupted", "cancelled"):
        click.echo(f"resume it with: scanflow resume {state.folder} {state.run_id}")


@main.command()
@APP_ARG
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON lines.")
@_guard
def runs(app: Path, limit: int, as_json: bool) -> None:
    """List the application's runs, newest first."""
    from .engine import list_runs, reconcile

    application = _load(app)
    unreadable: list[Any] = []
    states = [reconcile(s) for s in list_runs(application.folder, corrupt=unreadable)[:limit]]
    for error in unreadable:  # listed apart, never silently left out
        click.secho(f"error: {error}", fg="red", err=True)
    if not states and not unreadable:
        click.echo("no runs yet; start one with: scanflow run " + str(app))
        return
    for s in states:
        counts: dict[str, int] = {}
        for rec in s.nodes.values():
            counts[rec.state] = counts.get(rec.state, 0) + 1
        row = {
            "run_id": s.run_id,
            "workflow": s.workflow,
            "status": s.status,
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.created)),
            "seconds": round(s.updated - s.created, 1),
            "steps": counts,
            "mlflow_run_id": s.mlflow_run_id,
        }
        if as_json:
            click.echo(json.dumps(row))
        else:
            steps = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            click.echo(f"{s.run_id}  {s.workflow:<14} {s.status:<11} {row['started']}  {row['seconds']:>7} s  {steps}")


@main.command()
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
@_guard
def export(app: Path, target: str, workflow: str | None, output: Path | None, **kube: Any) -> None:
    """Export the application: canonical YAML, JSON, the JSON Schema of scanflow.yaml, DOT, or (--to kubernetes)
    every Kubernetes manifest and the Argo Workflows (a folder of files with -o)."""
    from .workflow import dump_json, dump_yaml, json_schema

    if target == "kubernetes":
        from .cli_kubernetes import export_kubernetes

        export_kubernetes(app, output, **kube)
        return
    if target == "schema":
        text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    else:
        application = _load(app)
        if target == "yaml":
            text = dump_yaml(application)
        elif target == "json":
            text = dump_json(application)
        else:
            text = application.plot(workflow).source
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


# -- Docker ----------------------------------------------------------------------------------------
def _docker_options(fn: Any) -> Any:
    fn = click.option("--base-image", help="Base of generated images (default: SCANFLOW_BASE_IMAGE).")(fn)
    ca_path = click.Path(dir_okay=False, path_type=Path)
    fn = click.option("--ca-bundle", type=ca_path, help="Extra CA bundle for pip in builds.")(fn)
    fn = click.option("--pip-index-url", help="pip's index inside builds.")(fn)
    return fn


def _deployment(app: Path, base_image: str | None, ca_bundle: Path | None, pip_index_url: str | None) -> Any:
    from .deploy.docker import DockerApp

    return DockerApp(_load(app), base_image=base_image, ca_bundle=ca_bundle, pip_index_url=pip_index_url)


def _build_line(event: Any) -> None:
    if event.status != "building":
        click.echo(f"  {event.node}: {event.image} {event.status}", err=True)
    elif event.line.startswith("Step ") or event.line.startswith("ERROR"):
        click.echo(f"  {event.node}: {event.line[:160]}", err=True)


@main.group()
def docker() -> None:
    """Build images, run and serve an application on the local Docker engine."""


@docker.command("base-image")
@click.option("--name", default="scanflow/debian-python:bookworm", show_default=True, help="Image name to create.")
@click.option("--suite", default="bookworm", show_default=True, help="Debian release.")
@click.option("--mirror", help="Debian mirror (default: the first one in this machine's apt sources).")
@_guard
def docker_base_image(name: str, suite: str, mirror: str | None) -> None:
    """Build a Python base image offline from a Debian root filesystem (debootstrap; needs root)."""
    from .deploy.docker import build_base_image

    build_base_image(name, suite=suite, mirror=mirror, on_line=lambda line: click.echo(line, err=True))
    click.echo(name)


@docker.command("build")
@APP_ARG
@_docker_options
@_guard
def docker_build(app: Path, base_image: str | None, ca_bundle: Path | None, pip_index_url: str | None) -> None:
    """Build the images of every executor, service and the tracker (only those missing)."""
    images = _deployment(app, base_image, ca_bundle, pip_index_url).build(on_event=_build_line)
    for node, image in images.items():
        click.echo(f"{node}\t{image}")


@docker.command("run")
@APP_ARG
@WORKFLOW_OPT
@_docker_options
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Steps run at once.")
@click.option("--force", is_flag=True, help="Run every step, even those whose cached result is valid.")
@click.option("-p", "--param", "params", multiple=True, metavar="STEP.NAME=VALUE", help="Override a parameter.")
@click.option("--logs", is_flag=True, help="Print the steps' output as it comes.")
@_guard
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
    deployment = _deployment(app, base_image, ca_bundle, pip_index_url)
    progress = Progress(len(deployment.app.workflow(workflow).leaves()))
    started = time.time()
    on_log = (lambda node, _stream, line: click.echo(f"  [{node}] {line}", err=True)) if logs else None
    try:
        result = deployment.run(
            workflow,
            workers=workers,
            force=force,
            params=_params(params),
            check=False,
            on_event=progress,
            on_build=_build_line,
            on_log=on_log,
        )
    finally:
        progress.close()
    from .tracking.store import redact

    click.echo(f"tracker: {redact(deployment.tracker_uri() or '')}", err=True)
    _report(result, started)


@docker.command("serve")
@APP_ARG
@click.argument("service")
@_docker_options
@click.option("--port", type=click.IntRange(1, 65535), help="Port to publish (default: the service's).")
@_guard
def docker_serve(
    app: Path, service: str, base_image: str | None, ca_bundle: Path | None, pip_index_url: str | None, port: int | None
) -> None:
    """Serve a Service node's model in a container and wait for its health check."""
    endpoint = _deployment(app, base_image, ca_bundle, pip_index_url).serve(service, port=port, on_build=_build_line)
    click.echo(f"{endpoint.service} healthy at {endpoint.url}/invocations")


@docker.command("status")
@APP_ARG
@_guard
def docker_status(app: Path) -> None:
    """List the application's containers, images, volumes and networks (found by label)."""
    click.echo(str(_deployment(app, None, None, None).status()))


@docker.command("stop")
@APP_ARG
@click.option("--all", "everything", is_flag=True, help="Also remove its images, volumes and network.")
@_guard
def docker_stop(app: Path, everything: bool) -> None:
    """Stop the application's containers; with --all remove everything it created, and nothing else."""
    deployment = _deployment(app, None, None, None)
    if everything:
        click.echo(str(deployment.cleanup()))
    else:
        for name in deployment.stop():
            click.echo(f"removed {name}")


@main.command()
@APP_ARG
@click.option(
    "--to",
    "target",
    type=click.Choice(["compose", "stack", "swarm", "kubernetes"]),
    default="compose",
    show_default=True,
)
@_docker_options
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the file here (default: stdout).")
@kube_options
@_guard
def deploy(
    app: Path,
    target: str,
    base_image: str | None,
    ca_bundle: Path | None,
    pip_index_url: str | None,
    output: Path | None,
    **kube: Any,
) -> None:
    """Export a compose file or a swarm stack, or (--to swarm) build, deploy the stack and report replicas, or
    (--to kubernetes) build and push the images, deploy the namespace, tracker and services on the cluster."""
    if target == "kubernetes":
        from .cli_kubernetes import deploy_kubernetes

        deploy_kubernetes(app, output, base_image=base_image, ca_bundle=ca_bundle, pip_index_url=pip_index_url, **kube)
        return
    deployment = _deployment(app, base_image, ca_bundle, pip_index_url)
    if target == "swarm":
        deployment.build(on_event=_build_line)
        path = output or (deployment.app.folder or Path.cwd()) / ".scanflow" / "stack.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        replicas = deployment.deploy_swarm(path, on_line=lambda line: click.echo(line, err=True))
        for name, count in replicas.items():
            click.echo(f"{name}\t{count}")
        return
    text = deployment.compose() if target == "compose" else deployment.stack()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


from .cli_kubernetes import kubernetes as _kubernetes  # noqa: E402  (the group's commands use main's helpers)

main.add_command(_kubernetes)

if __name__ == "__main__":
    main()
