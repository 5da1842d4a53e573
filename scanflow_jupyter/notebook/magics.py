"""The ``%scanflow`` line magic and the ``%%scanflow step`` cell magic.

A user's mistake (an unknown subcommand or workflow, a malformed option, a cell that is not Python, no
application loaded) is an IPython ``UsageError``: one clear message, no traceback. A ``ScanflowError`` from
the layers below becomes a ``UsageError`` with the same message. Subcommands return objects that display
themselves (a ``GraphView``, a ``Composer``, a ``RunResult``, a ``StatusTable``, a DataFrame).

Example
-------
>>> %load_ext scanflow_jupyter                      # doctest: +SKIP
>>> %scanflow new demo                              # doctest: +SKIP
>>> %%scanflow step prep --param rows=100           # doctest: +SKIP
... print(rows)
>>> %scanflow run                                   # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display
from traitlets import Bool, Int, Unicode

from ..errors import ScanflowError
from ..workflow import Application, Executor, Parameter, Workflow
from ..workflow.params import infer_type
from .arguments import CELL_COMMANDS, LINE_COMMANDS, PARSERS, help_text
from .cells import check_syntax, parse_params, step_script
from .status import StatusTable
from .widgets import Composer, GraphView

if TYPE_CHECKING:
    import argparse

    from IPython.core.interactiveshell import InteractiveShell

    from ..engine.runner import RunResult
    from .widgets import AgentPanel, DriftReportView, LabelingWidget, RunBrowser

NO_APP = "No application loaded: use %scanflow load PATH or %scanflow new NAME"


@magics_class
class ScanflowMagics(Magics):
    """``%scanflow`` and ``%%scanflow step``. Configure with ``%config ScanflowMagics.workers = 2``.

    ``app`` is the current application (set by ``%scanflow load`` and ``%scanflow new``).
    """

    workers = Int(1, min=1, help="Steps run at once by %scanflow run and the graph's Run button.").tag(config=True)
    tracking = Bool(True, help="Record runs in MLflow (%scanflow run --no-tracking turns it off once).").tag(
        config=True
    )
    default_folder = Unicode(".", help="Where %scanflow new NAME creates the application folder NAME.").tag(config=True)

    def __init__(self, shell: InteractiveShell | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.app: Application | None = None

    @line_cell_magic
    def scanflow(self, line: str, cell: str | None = None) -> Any:
        try:
            return self._dispatch(line, cell)
        except ScanflowError as exc:
            raise UsageError(str(exc)) from None

    scanflow.__doc__ = help_text()

    # -- dispatch ---------------------------------------------------------------------------------
    def _dispatch(self, line: str, cell: str | None) -> Any:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%scanflow: cannot read the line ({exc}); check its quotes.") from None
        if not argv or argv[0] in ("help", "-h", "--help"):
            if cell is not None:
                raise UsageError("%%scanflow needs a subcommand: %%scanflow step NAME [options], then the step's code.")
            print(help_text())
            return None
        command, rest = argv[0], argv[1:]
        if cell is None and command in CELL_COMMANDS:
            raise UsageError(
                f"'{command}' is a cell magic: put '%%scanflow {command} NAME' on the first line of a cell, with "
                "the step's code below it."
            )
        valid = CELL_COMMANDS if cell is not None else LINE_COMMANDS
        if command not in valid:
            if cell is not None and command in LINE_COMMANDS:
                raise UsageError(f"%%scanflow {command}: {command} is a line magic; use %scanflow {command}.")
            close = difflib.get_close_matches(command, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            prefix = "%%scanflow" if cell is not None else "%scanflow"
            raise UsageError(
                f"Unknown subcommand {command!r}{hint}; {prefix} takes one of: {', '.join(valid)}. "
                "See %scanflow? for each one's options."
            )
        parser = PARSERS[command]
        if "-h" in rest or "--help" in rest:
            print(parser.format_help())
            return None
        args = parser.parse_args(rest)
        if cell is not None:
            return self._step(args, cell)
        return getattr(self, f"_{command}")(args)

    def _require_app(self) -> Application:
        if self.app is None:
            raise UsageError(NO_APP)
        return self.app

    def _run_options(self) -> dict[str, Any]:
        return {"workers": self.workers, "tracking": self.tracking}

    # -- applications -----------------------------------------------------------------------------
    def _load(self, args: argparse.Namespace) -> None:
        from ..workflow import load

        path = Path(args.path).expanduser()
        spec = path / "scanflow.yaml" if path.is_dir() else path
        if not spec.is_file():
            raise UsageError(
                f"No application at {str(path)!r}: there is no scanflow.yaml there. Check the path, or create "
                "one with %scanflow new NAME."
            )
        app = load(path)
        self.app = app
        self._prewarm(app)
        steps = sum(len(wf.leaves()) for wf in app.workflows)
        workflows = ", ".join(wf.name for wf in app.workflows) or "none"
        print(f"loaded {app.name!r} from {app.folder}: workflows {workflows} ({steps} steps)")
        problems = app.problems()
        if problems:
            print(f"it has {len(problems)} problem(s); %scanflow validate lists them")

    def _new(self, args: argparse.Namespace) -> None:
        from ..workflow.validate import DNS_LABEL, suggest_label

        for what, name in (("application", args.name), ("workflow", args.workflow)):
            if not DNS_LABEL.match(name) or len(name) > 63:
                raise UsageError(
                    f"{what.capitalize()} name {name!r} is not a valid name (lowercase letters, digits and '-', "
                    f"starting and ending with a letter or digit); try {suggest_label(name)!r}."
                )
        folder = Path(args.folder).expanduser() if args.folder else Path(self.default_folder).expanduser() / args.name
        if (folder / "scanflow.yaml").exists():
            raise UsageError(
                f"{str(folder)!r} already holds an application; load it with %scanflow load {folder}, or choose "
                "another --folder."
            )
        app = Application(name=args.name, workflows=[Workflow(name=args.workflow)])
        app.save(folder)
        self.app = app
        self._prewarm(app)
        print(
            f"created {app.name!r} in {app.folder} with an empty workflow {args.workflow!r}; add steps with "
            "%%scanflow step NAME"
        )

    def _prewarm(self, app: Application) -> None:
        # The first tracked run in a kernel waits about 2 s for the MLflow writer process to start (it imports
        # MLflow) before its first step runs, with the graph sitting still; start the writer now, in the
        # background, while the user reads or writes cells (benchmarks/notebook_latency). Only in a Jupyter
        # kernel, where the live graph shows that wait: a plain IPython shell (the tests') does not pay for a
        # process it may never use.
        if self.tracking and getattr(self.shell, "kernel", None) is not None:
            from ..tracking import prewarm, resolve

            prewarm(resolve(app))

    def _validate(self, args: argparse.Namespace) -> None:
        app = self._require_app()
        app.validate()
        steps = sum(len(wf.leaves()) for wf in app.workflows)
        print(f"{app.name}: valid ({len(app.workflows)} workflow(s), {steps} step(s))")

    def _export(self, args: argparse.Namespace) -> None:
        from ..workflow import dump_json, dump_yaml, json_schema

        if args.to == "schema":
            text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
        else:
            app = self._require_app()
            if args.to == "yaml":
                text = dump_yaml(app)
            elif args.to == "json":
                text = dump_json(app)
            else:
                text = app.plot(args.workflow).source
        if args.output is None:
            print(text, end="")
            return
        path = Path(args.output).expanduser()
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")

    # -- graphs and runs --------------------------------------------------------------------------
    def _plot(self, args: argparse.Namespace) -> GraphView:
        app = self._require_app()
        return GraphView(app, args.workflow, run_options=self._run_options())

    def _compose(self, args: argparse.Namespace) -> Composer:
        # The composer edits self.app in place, so %scanflow run and validate see its edits at once.
        return Composer(self._require_app(), args.workflow)

    def _run(self, args: argparse.Namespace) -> RunResult | GraphView:
        from ..engine.params_resolve import parse_override, resolve_overrides

        app = self._require_app()
        workflow = app.workflow(args.workflow)
        params = dict(parse_override(text) for text in args.param)
        app.validate()
        resolve_overrides(workflow, params)  # bad overrides are refused before a graph shows
        options: dict[str, Any] = {
            "workers": args.workers or self.workers,
            "force": args.force,
            "params": params,
            "tracking": self.tracking and not args.no_tracking,
        }
        # The view of a run stays on that run (a later run does not repaint this cell's output).
        view = GraphView(app, workflow.name, run_options=self._run_options(), follow_all=False)
        return self._drive(view, args.background, None, options)

    def _resume(self, args: argparse.Namespace) -> RunResult | GraphView:
        from ..engine.runner import latest_run, status

        app = self._require_app()
        folder = app.folder or Path.cwd()
        if args.run_id is None:
            state = latest_run(folder, unfinished=True)
            if state is None:
                raise UsageError(f"Nothing to resume in {folder}: no failed or interrupted run.")
        else:
            state = status(app, args.run_id)
        if state.status == "succeeded":
            raise UsageError(f"Run {state.run_id} already succeeded; start a new one with %scanflow run.")
        holder = state.holder
        if holder is not None and holder.role == "driver":
            raise UsageError(f"Run {state.run_id} is being driven by {holder.describe()}; wait for it to end first.")
        app.validate()
        view = GraphView.from_run(app, state.run_id, run_options=self._run_options(), follow_all=False)
        options = {"workers": args.workers, "tracking": self.tracking and not args.no_tracking}
        return self._drive(view, args.background, state.run_id, options)

    def _drive(
        self, view: GraphView, background: bool, resume: str | None, options: dict[str, Any]
    ) -> RunResult | GraphView:
        if background:
            view.start(resume=resume, **options)
            return view
        display(view)  # type: ignore[no-untyped-call]  # subscribed already: it shows the run from its first event
        result = view.run(resume=resume, **options)
        if not result.ok:
            for error in result.errors.values():
                print(error, file=sys.stderr)
            if not result.errors:
                print(f"run {result.run_id} {result.status}", file=sys.stderr)
            print(f"resume it with: %scanflow resume {result.run_id}", file=sys.stderr)
        return result

    def _status(self, args: argparse.Namespace) -> StatusTable:
        from ..engine.runner import status

        return StatusTable(status(self._require_app(), args.run_id))

    def _runs(self, args: argparse.Namespace) -> Any:  # a RunBrowser, or a pandas.DataFrame with --table
        if not args.table:
            return self._run_browser(args)
        import pandas as pd

        from ..engine.runner import reconcile
        from ..engine.state import list_runs
        from ..errors import CorruptStateError

        app = self._require_app()
        rows = []
        unreadable: list[CorruptStateError] = []
        for state in list_runs(app.folder or Path.cwd(), corrupt=unreadable)[: args.limit or 20]:
            reconcile(state)
            counts: dict[str, int] = {}
            for record in state.nodes.values():
                counts[record.state] = counts.get(record.state, 0) + 1
            rows.append(
                {
                    "run_id": state.run_id,
                    "workflow": state.workflow,
                    "status": state.status,
                    "started": pd.Timestamp(state.created, unit="s", tz="UTC").tz_convert(None),
                    "seconds": round(state.updated - state.created, 1),
                    "steps": ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
                    "mlflow_run_id": state.mlflow_run_id,
                }
            )
        for error in unreadable:  # listed apart, never silently left out
            print(error, file=sys.stderr)
        columns = ["run_id", "workflow", "status", "started", "seconds", "steps", "mlflow_run_id"]
        return pd.DataFrame(rows, columns=columns)

    def _run_browser(self, args: argparse.Namespace) -> RunBrowser:
        from ..tracking.store import resolve_uri
        from .widgets import RunBrowser

        if args.uri is None and resolve_uri(self.app) is None:
            raise UsageError(f"{NO_APP}, or pass --uri URI (or set MLFLOW_TRACKING_URI) to browse a store.")
        if args.limit is not None and args.limit > 1000:
            raise UsageError(f"%scanflow runs: -n {args.limit} is too many rows per page; use at most 1000.")
        return RunBrowser(
            args.uri,
            app=self.app,
            experiments=args.experiment,
            filter=args.filter,
            order_by=args.sort,
            columns=args.column,
            page_size=args.limit or 100,
            tree=not args.flat,
        )

    def _label(self, args: argparse.Namespace) -> LabelingWidget:
        from .label import label_command

        return label_command(args, self.shell.user_ns if self.shell is not None else {}, self.app)

    def _check(self, args: argparse.Namespace) -> DriftReportView:
        from .check import check_command

        return check_command(args, self.shell.user_ns if self.shell is not None else {}, self.app)

    def _agents(self, args: argparse.Namespace) -> AgentPanel | None:
        from .agents import agents_command

        return agents_command(args, self.app)

    def _deploy(self, args: argparse.Namespace) -> Any:
        from .deploy import deploy_command

        return deploy_command(args, self._require_app(), self.workers)

    # -- %%scanflow step --------------------------------------------------------------------------
    def _step(self, args: argparse.Namespace, cell: str) -> None:
        from ..workflow.spec import write_atomic
        from ..workflow.validate import DNS_LABEL, suggest_label

        app = self._require_app()
        if app.folder is None:
            raise UsageError(f"Application {app.name!r} has no folder; save it first (app.save(FOLDER)).")
        name = args.name
        if not DNS_LABEL.match(name) or len(name) > 63:
            raise UsageError(
                f"Step name {name!r} is not a valid name (lowercase letters, digits and '-', starting and ending "
                f"with a letter or digit); try {suggest_label(name)!r}."
            )
        params = parse_params(args.param)
        after = [dep.strip() for dep in args.after.split(",") if dep.strip()]
        workflow = self._step_workflow(app, args.workflow)
        check_syntax(cell, name)

        script = f"steps/{name}.py"
        parameters = {k: Parameter(type=infer_type(v), default=v) for k, v in params.items()}
        existing = next((n for n in workflow.nodes if n.name == name), None)
        if existing is not None and not isinstance(existing, Executor):
            kind = "nested workflow" if isinstance(existing, Workflow) else "service"
            raise UsageError(f"{name!r} is a {kind} in workflow {workflow.name!r}; choose another step name.")
        if existing is not None:  # keep what the cell does not say (retries, requirements, env...)
            node = existing.model_copy(
                update={"script": script, "function": None, "parameters": parameters, "depends_on": after}
            )
        else:
            node = Executor(name=name, script=script, parameters=parameters, depends_on=after)

        before = set(app.problems(check_files=False))
        saved = list(workflow.nodes)
        if existing is not None:
            workflow.nodes[workflow.nodes.index(existing)] = node
        else:
            workflow.nodes.append(node)
        new = [p for p in app.problems(check_files=False) if p not in before]
        if new:
            workflow.nodes = saved
            raise UsageError(f"Step {name!r} was not added; nothing was saved:\n" + "\n".join(f"  - {p}" for p in new))
        write_atomic(app.folder / script, step_script(name, cell, params))
        app.save()
        where = f"after {', '.join(after)} " if after else ""
        verb = "replaced in" if existing is not None else "added to"
        print(f"step {name!r} saved to {script} and {verb} workflow {workflow.name!r} {where}(not run)")

    def _step_workflow(self, app: Application, name: str | None) -> Workflow:
        if name is None:
            if not app.workflows:
                raise UsageError(f"Application {app.name!r} has no workflow; add one to scanflow.yaml first.")
            return app.workflows[0]
        top, _, inner = name.partition("/")
        workflow = app.workflow(top)
        if not inner:
            return workflow
        try:
            node = workflow.find(inner)
        except KeyError as exc:
            raise UsageError(f"--workflow {name!r}: {exc.args[0]}") from None
        if not isinstance(node, Workflow):
            raise UsageError(f"--workflow {name!r} names a step, not a workflow.")
        return node


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the magics with ``ipython`` (``%load_ext scanflow_jupyter``); loading again replaces them."""
    # %reload_ext may have re-imported this module: match the old instance by name, not by class.
    ipython.configurables[:] = [c for c in ipython.configurables if type(c).__name__ != ScanflowMagics.__name__]
    ipython.register_magics(ScanflowMagics(shell=ipython))
    # A ScanflowError is a user's mistake with its fix in the message: show that line, not our internals' stack.
    ipython.set_custom_exc((ScanflowError,), _show_scanflow_error)  # type: ignore[no-untyped-call]  # IPython's


def _show_scanflow_error(
    shell: InteractiveShell, etype: type[BaseException], value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    lines = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, lines)  # a kernel sends it as the cell's error; a terminal prints it
    return lines
