"""What every ``scanflow`` command shares: exit codes, the application argument, the error guard, parameter
overrides, the terminal progress of a run and its summary.

Every command module imports this one. The backends' modules (:mod:`.docker`, :mod:`.kubernetes`) import
nothing else of ``cli/`` and never each other; :mod:`.deploy` and :mod:`.export`, whose ``--to`` picks a backend,
call theirs.

Example
-------
>>> param_overrides(("train.epochs=3",))
{'train.epochs': '3'}
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click

__all__ = [
    "APP_ARG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "WORKFLOW_OPT",
    "Progress",
    "fail",
    "guard",
    "load",
    "param_overrides",
    "progress_line",
    "report",
    "run_with_progress",
    "write_or_echo",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

APP_ARG = click.argument("app", default=".", type=click.Path(file_okay=True, dir_okay=True, path_type=Path))
WORKFLOW_OPT = click.option("-w", "--workflow", help="Workflow to use (needed when the application has several).")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: MESSAGE`` in red on stderr and exit with ``code``."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def load(path: Path) -> Any:
    """The application in ``path`` (a folder or its ``scanflow.yaml``). Tracking writes a killed command left in
    the store's journal are set going again first (in the background)."""
    from ..workflow import load as load_application

    application = load_application(path)
    _replay_tracking(application)
    return application


def _replay_tracking(application: Any) -> None:
    from ..tracking.journal import replay
    from ..tracking.store import resolve

    try:
        if replay(resolve(application)):
            click.echo("tracking: MLflow is catching up on writes a run left in the journal", err=True)
    except Exception as exc:  # the command itself must still run; the next one tries again
        click.secho(f"warning: the tracking journal could not be replayed: {exc}", fg="yellow", err=True)


def guard(fn: Any) -> Any:
    """Turn scanflow errors into a clear message and an exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..errors import RunError, ScanflowError

        try:
            return fn(*args, **kwargs)
        except RunError as exc:
            fail(str(exc), EXIT_FAILED if not type(exc).__name__.startswith("Run") else EXIT_USAGE)
        except ScanflowError as exc:
            fail(str(exc))

    return wrapper


def param_overrides(values: tuple[str, ...]) -> dict[str, str]:
    """``-p STEP.NAME=VALUE`` options as ``{STEP.NAME: VALUE}``."""
    from ..engine.params_resolve import parse_override

    return dict(parse_override(v) for v in values)


def report(result: Any, started: float) -> None:
    """The summary line of a finished run and its errors; exits 1 when it failed, 130 when cancelled."""
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


def progress_line(event: Any) -> None:
    """A deployment's progress event (:class:`~scanflow_jupyter.deploy.base.DeployEvent`) on stderr: each
    image's outcome, the Dockerfile's steps and errors as they come, each object applied or pushed."""
    if event.status == "progress":
        click.echo(f"  {event.line}", err=True)
    elif event.status != "building":
        click.echo(f"  {event.node}: {event.image} {event.status}", err=True)
    elif event.line.startswith("Step ") or event.line.startswith("ERROR"):
        click.echo(f"  {event.node}: {event.line[:160]}", err=True)


def run_with_progress(total: int, quiet: bool, start: Callable[[Progress], Any]) -> None:
    """Call ``start(on_event)`` (a run or a resume) with terminal progress over ``total`` steps, then
    :func:`report` its result. The run's MLflow writes are journaled: the command exits without waiting for
    MLflow, which a drainer process brings up to date."""
    from ..tracking import detach

    progress = Progress(total, quiet)
    started = time.time()
    detach()
    try:
        result = start(progress)
    finally:
        detach(False)  # the command's run only (a test or a script may invoke the command in its own process)
        progress.close()
    report(result, started)


def write_or_echo(text: str, output: Path | None) -> None:
    """``text`` to stdout, or to ``output`` with ``wrote OUTPUT`` on stderr."""
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


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
