"""%scanflow and %%scanflow step on a real IPython shell: every subcommand, the configuration, and every
user mistake as a UsageError with a clear message and no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import scanflow_jupyter
from scanflow_jupyter.engine import NodeState
from scanflow_jupyter.notebook import GraphView, ScanflowMagics, StatusTable
from scanflow_jupyter.notebook.arguments import CELL_COMMANDS, LINE_COMMANDS
from scanflow_jupyter.workflow import load

from ..conftest import ROOT

Magic = Callable[[str], Any]
Cell = Callable[[str, str], Any]

FLAKY = "import os, sys\nprint('flaky ran')\nsys.exit(0 if os.path.exists('ok') else 3)\n"


def step(name: str, *after: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "script": "step.py", **({"depends_on": list(after)} if after else {}), **extra}


@pytest.fixture
def loaded(make_app: Callable[..., Any], sf: Magic, magics: Any) -> Any:
    """A two-step application, loaded, with tracking off."""
    app = make_app([step("a"), step("b", "a", parameters={"fail": False, "sleep": 0.0})])
    sf(f"load {app.folder}")
    magics.tracking = False
    return magics.app


# -- the extension and its configuration ---------------------------------------------------------------
def test_load_ext_registers_the_magics(shell: InteractiveShell) -> None:
    shell.run_line_magic("reload_ext", "scanflow_jupyter")
    assert shell.find_line_magic("scanflow") is not None
    assert shell.find_cell_magic("scanflow") is not None
    assert sum(isinstance(c, ScanflowMagics) for c in shell.configurables) == 1  # reloading replaces


def test_importing_the_package_leaves_ipython_out() -> None:
    code = "import sys, scanflow_jupyter; scanflow_jupyter.load_ipython_extension; print('IPython' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_config_sets_the_options(shell: InteractiveShell, magics: Any, sf: Magic, tmp_path: Path) -> None:
    assert (magics.workers, magics.tracking, magics.default_folder) == (1, True, ".")
    shell.run_line_magic("config", "ScanflowMagics.workers = 2")
    shell.run_line_magic("config", "ScanflowMagics.tracking = False")
    shell.run_line_magic("config", "ScanflowMagics.default_folder = 'apps'")
    assert (magics.workers, magics.tracking, magics.default_folder) == (2, False, "apps")
    sf("new demo")
    assert (tmp_path / "apps" / "demo" / "scanflow.yaml").is_file()
    view = sf("plot")
    assert view._run_options == {"workers": 2, "tracking": False}


def test_help_lists_every_subcommand_and_option(shell: InteractiveShell, sf: Magic, capsys: Any) -> None:
    doc = shell.find_line_magic("scanflow").__doc__
    for name in LINE_COMMANDS:
        assert f"%scanflow {name}" in doc
    assert "%%scanflow step" in doc
    for option in ("--workers N", "--force", "--param", "--background", "--no-tracking", "--after", "-n N", "--to"):
        assert option in doc
    assert "workers, tracking, default_folder" in doc
    sf("")
    assert "subcommands: load, new, plot" in capsys.readouterr().out
    sf("run -h")
    assert capsys.readouterr().out.lstrip(": \n").startswith("%scanflow run [--workers N]")


# -- applications ------------------------------------------------------------------------------------
def test_new_creates_and_loads_an_empty_application(sf: Magic, magics: Any, tmp_path: Path, capsys: Any) -> None:
    sf("new demo --workflow train")
    assert magics.app.name == "demo" and magics.app.folder == tmp_path / "demo"
    assert load(tmp_path / "demo") == magics.app
    assert [wf.name for wf in magics.app.workflows] == ["train"]
    assert "add steps with %%scanflow step NAME" in capsys.readouterr().out
    sf(f"new other --folder {tmp_path / 'x' / 'y'}")
    assert (tmp_path / "x" / "y" / "scanflow.yaml").is_file() and magics.app.name == "other"


def test_load_makes_the_application_current(sf: Magic, magics: Any, capsys: Any) -> None:
    assert sf(f"load {ROOT / 'examples' / 'tabular'}") is None
    assert magics.app.name == "tabular"
    assert "workflows pipeline (5 steps)" in capsys.readouterr().out
    sf(f"load {ROOT / 'examples' / 'tabular' / 'scanflow.yaml'}")
    assert magics.app.name == "tabular"


def test_load_mentions_problems(make_app: Callable[..., Any], sf: Magic, capsys: Any) -> None:
    app = make_app([step("a", "nope")])
    sf(f"load {app.folder}")
    assert "it has 1 problem(s); %scanflow validate lists them" in capsys.readouterr().out


def test_validate_and_export(loaded: Any, sf: Magic, capsys: Any, tmp_path: Path) -> None:
    sf("validate")
    assert capsys.readouterr().out == "demo: valid (1 workflow(s), 2 step(s))\n"
    sf("export")
    assert capsys.readouterr().out == loaded.to_yaml()
    sf("export --to json")
    assert json.loads(capsys.readouterr().out)["name"] == "demo"
    sf("export --to dot")
    assert capsys.readouterr().out.startswith("digraph main {")
    sf("export --to schema")
    assert json.loads(capsys.readouterr().out)["$id"].endswith("scanflow.v1.schema.json")
    sf(f"export --to yaml -o {tmp_path / 'out.yaml'}")
    assert yaml.safe_load((tmp_path / "out.yaml").read_text())["name"] == "demo"
    assert capsys.readouterr().out == f"wrote {tmp_path / 'out.yaml'}\n"


def test_schema_export_needs_no_application(sf: Magic, capsys: Any) -> None:
    sf("export --to schema")
    assert '"$id"' in capsys.readouterr().out


def test_validate_lists_every_problem(make_app: Callable[..., Any], sf: Magic) -> None:
    app = make_app([step("Bad_Name"), step("b", "zzz")])
    sf(f"load {app.folder}")
    with pytest.raises(UsageError, match=r"(?s)2 problems in application 'demo':.*Bad_Name.*'zzz'"):
        sf("validate")


# -- plot and run ------------------------------------------------------------------------------------
def test_plot_returns_a_graph_view(loaded: Any, sf: Magic) -> None:
    view = sf("plot")
    assert isinstance(view, GraphView) and view.workflow == "main" and list(view.info) == ["a", "b"]
    assert sf("plot main").workflow == "main"


def test_run_shows_a_live_graph_and_returns_the_result(loaded: Any, sf: Magic, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[tuple[GraphView, dict[str, str]]] = []
    seen: list[dict[str, str]] = []

    def display(view: GraphView) -> None:  # stands in for the notebook: the view is shown before the run
        shown.append((view, dict(view.states)))
        view.observe(lambda change: seen.append(dict(change["new"])), "states")

    monkeypatch.setattr("scanflow_jupyter.notebook.magics.display", display)
    result = sf("run --workers 2 --param b.sleep=0.1")
    assert result.ok and result.states == {"a": NodeState.SUCCEEDED, "b": NodeState.SUCCEEDED}
    [(view, before)] = shown
    assert before == {} and view.states == {"a": "succeeded", "b": "succeeded"}
    assert {"a": "succeeded", "b": "running"} in seen
    assert result.state.workers == 2 and result.state.overrides == {"b": {"sleep": 0.1}}
    assert result.state.tracking_uri is None  # tracking off (the fixture's configuration)
    assert "<b>run " in result._repr_html_()


def test_the_graph_of_a_run_stays_on_that_run(loaded: Any, sf: Magic, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[GraphView] = []
    monkeypatch.setattr("scanflow_jupyter.notebook.magics.display", shown.append)
    plotted = sf("plot")
    first = sf("run")
    second = sf("run")
    assert shown[0].run_id == first.run_id and shown[0].states == {"a": "succeeded", "b": "succeeded"}
    assert shown[1].run_id == second.run_id and shown[1].states == {"a": "cached", "b": "cached"}
    assert plotted.run_id == second.run_id and plotted.states == {"a": "cached", "b": "cached"}  # follows all


def test_run_force_runs_cached_steps_again(loaded: Any, sf: Magic) -> None:
    sf("run")
    assert set(sf("run").states.values()) == {NodeState.CACHED}
    assert set(sf("run --force").states.values()) == {NodeState.SUCCEEDED}


def test_failed_run_returns_the_result_and_shows_the_error(loaded: Any, sf: Magic, capsys: Any) -> None:
    result = sf("run -p b.fail=true")
    assert result.status == "failed" and result.states["b"] is NodeState.FAILED
    err = capsys.readouterr().err
    assert "Step 'b' exited with code 3" in err and "something went wrong in the step" in err
    assert f"resume it with: %scanflow resume {result.run_id}" in err
    assert "Traceback" not in err


def test_failed_run_in_a_cell_shows_no_traceback(loaded: Any, shell: InteractiveShell, capsys: Any) -> None:
    shell.run_cell("%scanflow run -p b.fail=true")
    captured = capsys.readouterr()
    assert "exited with code 3" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_run_in_the_background_returns_the_live_graph(loaded: Any, sf: Magic) -> None:
    view = sf("run --background --param b.sleep=0.3")
    assert isinstance(view, GraphView) and view.running
    result = view.wait(60)
    assert result is not None and result.ok
    assert view.states == {"a": "succeeded", "b": "succeeded"} and view.run_status == "succeeded"


def test_run_with_tracking_records_in_mlflow(loaded: Any, sf: Magic, magics: Any) -> None:
    magics.tracking = True
    result = sf("run")
    assert result.ok and result.state.mlflow_run_id and result.state.nodes["a"].mlflow_run_id
    assert sf("run --force --no-tracking").state.mlflow_run_id is None


def test_resume_finishes_a_failed_run(make_app: Callable[..., Any], sf: Magic, magics: Any, tmp_path: Path) -> None:
    app = make_app([step("a"), {"name": "flaky", "script": "flaky.py", "depends_on": ["a"]}], {"flaky.py": FLAKY})
    sf(f"load {app.folder}")
    magics.tracking = False
    failed = sf("run")
    assert failed.status == "failed"
    (app.folder / "ok").write_text("")
    resumed = sf("resume")
    assert resumed.ok and resumed.run_id == failed.run_id
    assert (app.folder / "out" / "order.txt").read_text().split() == ["a"]  # a was not run again
    with pytest.raises(UsageError, match=f"Run {failed.run_id} already succeeded"):
        sf(f"resume {failed.run_id}")


def test_resume_in_the_background(make_app: Callable[..., Any], sf: Magic, magics: Any) -> None:
    app = make_app([{"name": "flaky", "script": "flaky.py"}], {"flaky.py": FLAKY})
    sf(f"load {app.folder}")
    magics.tracking = False
    failed = sf("run")
    (app.folder / "ok").write_text("")
    view = sf(f"resume {failed.run_id} --background")
    assert view.run_id == failed.run_id
    result = view.wait(60)
    assert result is not None and result.ok and view.states == {"flaky": "succeeded"}


def test_status_and_runs(loaded: Any, sf: Magic) -> None:
    first = sf("run")
    second = sf("run -p b.fail=true")
    table = sf("status")
    assert isinstance(table, StatusTable) and table.run_id == second.run_id and table.status == "failed"
    assert [(r.address, r.state) for r in table.rows] == [("a", "cached"), ("b", "failed")]
    assert repr(table).splitlines()[0] == f"run {second.run_id} (main): failed"
    assert f"resume it with: %scanflow resume {second.run_id}" in repr(table)
    assert sf(f"status {first.run_id}").status == "succeeded"

    runs = sf("runs --table")
    assert isinstance(runs, pd.DataFrame)
    assert list(runs.columns) == ["run_id", "workflow", "status", "started", "seconds", "steps", "mlflow_run_id"]
    assert list(runs["run_id"]) == [second.run_id, first.run_id]
    assert list(runs["steps"]) == ["1 cached, 1 failed", "2 succeeded"]
    assert len(sf("runs --table -n 1")) == 1


def test_status_table_escapes_step_text(make_app: Callable[..., Any], sf: Magic, magics: Any) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"fail": True})])
    sf(f"load {app.folder}")
    magics.tracking = False
    sf("run")
    table = sf("status")
    object.__setattr__(table.rows[1], "error", "<script>alert(1)</script>")
    assert "<script>" not in table._repr_html_() and "&lt;script&gt;" in table._repr_html_()


def test_runs_of_a_new_application_is_empty(sf: Magic) -> None:
    sf("new demo")
    assert sf("runs --table").empty


# -- %%scanflow step ---------------------------------------------------------------------------------
def test_step_cell_saves_a_script_that_runs(sf: Magic, step_cell: Cell, magics: Any, capsys: Any) -> None:
    sf("new demo")
    body = "print('prep', repr(rows), repr(rate), repr(verbose), repr(label), repr(test_size))\n"
    assert (
        step_cell("prep --param rows=3 --param rate=0.5 --param verbose=true -p label=x -p test-size=2", body) is None
    )
    step_cell("train --after prep", "from pathlib import Path\nPath('trained').write_text('yes')\n")
    assert "step 'train' saved to steps/train.py and added to workflow 'main' after prep" in capsys.readouterr().out

    app = load(magics.app.folder)
    prep, train = app.workflow().nodes
    assert prep.script == "steps/prep.py" and train.depends_on == ["prep"]
    assert {k: (p.type, p.default) for k, p in prep.parameters.items()} == {
        "rows": ("int", 3),
        "rate": ("float", 0.5),
        "verbose": ("bool", True),
        "label": ("str", "x"),
        "test-size": ("int", 2),
    }
    assert (app.folder / "steps" / "prep.py").read_text().endswith(body)

    result = scanflow_jupyter.run(app, tracking=False, params={"prep.rows": 7, "prep.verbose": False})
    assert result.ok
    out = (result.state.log_dir("prep") / "stdout.txt").read_text()
    assert out == "prep 7 0.5 False 'x' 2\n"
    assert (app.folder / "trained").read_text() == "yes"


def test_step_cell_does_not_run_the_cell(sf: Magic, step_cell: Cell, shell: InteractiveShell, magics: Any) -> None:
    sf("new demo")
    step_cell("prep", "ran_in_the_kernel = True\n")
    assert "ran_in_the_kernel" not in shell.user_ns
    assert not (magics.app.folder / ".scanflow" / "runs").exists()


def test_step_cell_replaces_a_step_in_place(make_app: Callable[..., Any], sf: Magic, step_cell: Cell) -> None:
    app = make_app([step("a", retries=2), step("b", "a")])
    sf(f"load {app.folder}")
    step_cell("a --param n=1", "print(n)\n")
    saved = load(app.folder)
    a, b = saved.workflow().nodes
    assert (a.name, a.script, a.retries, list(a.parameters)) == ("a", "steps/a.py", 2, ["n"])
    assert b.depends_on == ["a"]


def test_step_cell_keeps_future_imports_first(sf: Magic, step_cell: Cell, magics: Any) -> None:
    sf("new demo")
    step_cell("prep --param n=2", '"""Doc."""\nfrom __future__ import annotations\nx: list[int] = [n]\nprint(x)\n')
    result = scanflow_jupyter.run(load(magics.app.folder), tracking=False)
    assert result.ok and (result.state.log_dir("prep") / "stdout.txt").read_text() == "[2]\n"


def test_step_cell_into_a_nested_workflow(make_app: Callable[..., Any], sf: Magic, step_cell: Cell) -> None:
    app = make_app([step("a"), {"name": "inner", "depends_on": ["a"], "nodes": [step("x")]}])
    sf(f"load {app.folder}")
    step_cell("y --after x --workflow main/inner", "print('y')\n")
    inner = load(app.folder).workflow().find("inner")
    assert [n.name for n in inner.nodes] == ["x", "y"]  # type: ignore[union-attr]


# -- mistakes ----------------------------------------------------------------------------------------
NEEDS_APP = ["plot", "run", "run --background", "resume", "status", "runs --table", "validate", "export"]
NEEDS_APP += ["export --to dot"]


@pytest.mark.parametrize("line", NEEDS_APP)
def test_every_subcommand_needs_an_application(sf: Magic, line: str) -> None:
    with pytest.raises(UsageError, match=r"^No application loaded: use %scanflow load PATH or %scanflow new NAME$"):
        sf(line)


def test_step_cell_needs_an_application(step_cell: Cell) -> None:
    with pytest.raises(UsageError, match="No application loaded: use %scanflow load PATH"):
        step_cell("prep", "print(1)\n")


@pytest.mark.parametrize(
    "line,message",
    [
        ("foo", r"Unknown subcommand 'foo'; %scanflow takes one of: load, new, plot, run, resume, status, runs"),
        ("rnu", r"Unknown subcommand 'rnu' \(did you mean 'run'\?\)"),
        ("step prep", r"'step' is a cell magic: put '%%scanflow step NAME' on the first line of a cell"),
        ("plot nope", r"no workflow named 'nope'; choose one of: main"),
        ("run nope", r"no workflow named 'nope'; choose one of: main"),
        ("export --to dot -w nope", r"no workflow named 'nope'"),
        ("run -p b.fail", r"Parameter override 'b.fail' is not of the form STEP.NAME=VALUE"),
        ("run -p nope.x=1", r"no step 'nope' in workflow 'main'"),
        ("run -p b.sleep=slow", r"Parameter 'b.sleep' expects a float, got 'slow'"),
        ("run -p b.nope=1", r"step 'b' declares no parameter 'nope'"),
        ("run --workers 0", r"%scanflow run: argument --workers: expected at least 1, got 0"),
        ("run --workers two", r"argument --workers: expected a whole number, got 'two'"),
        ("run --fast", r"%scanflow run: unrecognized arguments: --fast"),
        ("run 'main", r"cannot read the line \(No closing quotation\); check its quotes"),
        ("export --to xml", r"argument --to: invalid choice: 'xml'"),
        ("status nope", r"No run 'nope' in .*this application has no runs yet"),
        ("resume", r"Nothing to resume in .*: no failed or interrupted run"),
        ("resume nope", r"No run 'nope'"),
        ("load nowhere", r"No application at 'nowhere': there is no scanflow.yaml there"),
        ("new Bad_App", r"Application name 'Bad_App' is not a valid name .*try 'bad-app'"),
        ("new x --workflow Main", r"Workflow name 'Main' is not a valid name"),
    ],
)
def test_line_mistakes_are_usage_errors(loaded: Any, sf: Magic, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sf(line)


def test_new_refuses_an_existing_application(loaded: Any, sf: Magic) -> None:
    with pytest.raises(UsageError, match="already holds an application; load it with %scanflow load"):
        sf(f"new demo --folder {loaded.folder}")


@pytest.mark.parametrize(
    "line,cell,message",
    [
        ("c", "x = 1\ny = = 2\n", r"Syntax error in the cell of step 'c', line 2: invalid syntax\n    y = = 2"),
        ("c", "!pip install x\n", r"(?s)line 1.*IPython syntax \(%magics, !commands\) cannot be used"),
        ("c --param rows", "x = 1\n", r"--param 'rows' is not of the form NAME=VALUE"),
        ("c --param class=1", "x = 1\n", r"'class' cannot be both an option and a variable of the cell"),
        ("c --param a.b=1", "x = 1\n", r"'a.b' cannot be both an option and a variable"),
        ("c -p n=1 -p n=2", "x = 1\n", r"'n' is given twice"),
        ("Train", "x = 1\n", r"Step name 'Train' is not a valid name .*try 'train'"),
        (
            "c --after nope",
            "x = 1\n",
            r"(?s)Step 'c' was not added; nothing was saved:.*depends on unknown node 'nope'",
        ),
        ("a --after b", "x = 1\n", r"dependency cycle"),
        ("c --workflow nope", "x = 1\n", r"no workflow named 'nope'; choose one of: main"),
        ("c --workflow main/a", "x = 1\n", r"--workflow 'main/a' names a step, not a workflow"),
        ("c --workflow main/zz", "x = 1\n", r"--workflow 'main/zz': no node 'zz' in 'main'"),
        ("", "x = 1\n", r"%%scanflow step: the following arguments are required: NAME"),
    ],
)
def test_cell_mistakes_are_usage_errors(loaded: Any, step_cell: Cell, line: str, cell: str, message: str) -> None:
    before = (loaded.folder / "scanflow.yaml").read_text()
    with pytest.raises(UsageError, match=message):
        step_cell(line, cell)
    assert (loaded.folder / "scanflow.yaml").read_text() == before
    assert not (loaded.folder / "steps").exists()
    assert [n.name for n in loaded.workflow().nodes] == ["a", "b"]


@pytest.mark.parametrize("line,message", [("run", "run is a line magic; use %scanflow run"), ("nope", "Unknown")])
def test_other_cell_subcommands_are_refused(shell: InteractiveShell, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        shell.run_cell_magic("scanflow", line, "x = 1\n")


def test_usage_errors_show_without_traceback(shell: InteractiveShell, capsys: Any) -> None:
    shell.run_cell("%scanflow run")
    shell.run_cell("%scanflow foo")
    captured = capsys.readouterr()
    assert "UsageError: No application loaded" in captured.err
    assert "UsageError: Unknown subcommand 'foo'" in captured.err
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("command", LINE_COMMANDS)
def test_each_subcommand_has_help(sf: Magic, command: str, capsys: Any) -> None:
    assert sf(f"{command} --help") is None
    assert f"%scanflow {command}" in capsys.readouterr().out


def test_the_cell_subcommand_has_help(shell: InteractiveShell, capsys: Any) -> None:
    shell.run_cell_magic("scanflow", "step -h", "x = 1\n")
    assert f"%%scanflow {CELL_COMMANDS[0]} [--after A,B]" in capsys.readouterr().out
