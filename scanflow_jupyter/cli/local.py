"""The commands on this machine: ``scanflow validate``, ``plot``, ``run``, ``resume``, ``status``, ``runs`` and
``show``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .common import APP_ARG, WORKFLOW_OPT, fail, guard, load, param_overrides, run_with_progress


@click.command()
@APP_ARG
@guard
def validate(app: Path) -> None:
    """Check an application and list every problem found."""
    application = load(app)
    application.validate()
    steps = sum(len(wf.leaves()) for wf in application.workflows)
    click.echo(f"{application.name}: valid ({len(application.workflows)} workflow(s), {steps} step(s))")


@click.command()
@APP_ARG
@WORKFLOW_OPT
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write to a file: .dot, or .svg/.png (needs Graphviz's dot).",
)
@click.option("--run", "run_id", help="Colour the steps by the states of this run (default: pending).")
@guard
def plot(app: Path, workflow: str | None, output: Path | None, run_id: str | None) -> None:
    """Draw a workflow as DOT (nested workflows as clusters)."""
    from ..engine import status as run_status

    application = load(app)
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
        fail(
            f"rendering {output.suffix} needs Graphviz's 'dot' program (apt-get install graphviz); write a .dot "
            "file instead, or plot in the notebook, which renders in the browser"
        )
    click.echo(f"wrote {written}")


@click.command()
@APP_ARG
@WORKFLOW_OPT
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Steps run at once.")
@click.option("--force", is_flag=True, help="Run every step, even those whose cached result is valid.")
@click.option("-p", "--param", "params", multiple=True, metavar="STEP.NAME=VALUE", help="Override a parameter.")
@click.option("--no-tracking", is_flag=True, help="Do not record the run in MLflow.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary.")
@guard
def run(
    app: Path, workflow: str | None, workers: int, force: bool, params: tuple[str, ...], no_tracking: bool, quiet: bool
) -> None:
    """Run a workflow locally, each step tracked as a child MLflow run."""
    from ..engine import run as run_workflow

    application = load(app)
    overrides = param_overrides(params)
    application.validate()
    run_with_progress(
        len(application.workflow(workflow).leaves()),
        quiet,
        lambda progress: run_workflow(
            application,
            workflow,
            workers=workers,
            force=force,
            params=overrides,
            tracking=not no_tracking,
            check=False,
            on_event=progress,
        ),
    )


@click.command()
@APP_ARG
@click.argument("run_id", required=False)
@click.option("--workers", type=click.IntRange(min=1), help="Steps run at once (default: as the run was started).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary.")
@guard
def resume(app: Path, run_id: str | None, workers: int | None, quiet: bool) -> None:
    """Finish a failed or killed run (the latest by default); finished steps are not run again."""
    from ..engine import resume as resume_run

    application = load(app)
    run_with_progress(
        sum(1 for _ in application.workflows[0].leaves()) if application.workflows else 0,
        quiet,
        lambda progress: resume_run(application, run_id, workers=workers, check=False, on_event=progress),
    )


@click.command()
@APP_ARG
@click.argument("run_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the run state as JSON.")
@guard
def status(app: Path, run_id: str | None, as_json: bool) -> None:
    """Show the state of each step of a run (the latest by default)."""
    from dataclasses import asdict

    from ..engine import status as run_status

    state = run_status(load(app), run_id)
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


@click.command()
@APP_ARG
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON lines.")
@guard
def runs(app: Path, limit: int, as_json: bool) -> None:
    """List the application's runs, newest first."""
    from ..engine import list_runs, reconcile

    application = load(app)
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


@click.command()
@APP_ARG
@WORKFLOW_OPT
@click.option("--no-run", is_flag=True, help="Only the definition: do not read the latest run from MLflow.")
@guard
def show(app: Path, workflow: str | None, no_run: bool) -> None:
    """Print the steps, their parameters, inputs and outputs, with the values of the latest tracked run."""
    from ..errors import RunNotFoundError
    from ..tracking import resolve
    from ..tracking.past import PastRun, latest_run
    from ..workflow import flatten
    from ..workflow.refs import references_in

    application = load(app)
    wf = application.workflow(workflow)
    graph = flatten(wf)
    past: PastRun | None = None
    if not no_run:
        config = resolve(application)
        if config.sqlite_path is None or config.sqlite_path.exists():  # never create a store to find it empty
            try:
                past = latest_run(application, wf.name, config=config)
            except RunNotFoundError:
                past = None
    click.echo(f"{application.name} / workflow {wf.name}: {len(graph.nodes)} step(s)")
    if past is not None:
        click.echo(f"latest run: {past.run_id} ({past.status})")
    for address in graph.order():
        node = graph.nodes[address]
        click.echo("")
        source = getattr(node, "script", None) or getattr(node, "function", None) or getattr(node, "model_uri", "")
        click.echo(f"step {address}  ({source})")
        deps = sorted(graph.deps[address])
        if deps:
            click.echo(f"  after:      {', '.join(deps)}")
        step_run = past.steps.get(address) if past is not None else None
        for name, param in getattr(node, "parameters", {}).items():
            refs = references_in(param.default)
            line = f"  param       {name} = {param.default!r} ({param.type})"
            if step_run is not None and name in step_run.params:
                line += f"  -> {step_run.params[name]}" if refs else ""
            click.echo(line)
        for pattern in getattr(node, "inputs", []):
            click.echo(f"  input file  {pattern}")
        for pattern in getattr(node, "outputs", []):
            click.echo(f"  output file {pattern}")
        if step_run is None:
            continue
        click.echo(f"  state:      {step_run.state}")
        outputs = step_run.outputs
        for ref, value in outputs.read.items():
            click.echo(f"  input       {ref} = {_short(value)}")
        for name, value in outputs.items():
            click.echo(f"  output      {name} = {_short(value)}")


def _short(value: Any, limit: int = 100) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
