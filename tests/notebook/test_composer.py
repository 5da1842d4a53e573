"""Composer without a browser: its synced state per PROTOCOL.md, every message of the view (valid and refused),
redraws from Python (refresh and the post_run_cell hook), save, export, and the %scanflow compose magic."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from scanflow_jupyter import __version__
from scanflow_jupyter.errors import WorkflowValidationError
from scanflow_jupyter.notebook import Composer
from scanflow_jupyter.notebook.widgets.composer import GROUP_HEADER, GROUP_PAD
from scanflow_jupyter.workflow import Application, Executor, Workflow, load

from .conftest import step

Magic = Callable[[str], Any]


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Application:
    """gather -> modeling {linear, forest} -> evaluate, saved in a folder."""
    return make_app(  # type: ignore[no-any-return]
        [
            step("gather", parameters={"rows": 10}),
            {"name": "modeling", "depends_on": ["gather"], "nodes": [step("linear"), step("forest")]},
            step("evaluate", "modeling"),
        ]
    )


def send(composer: Composer, **content: Any) -> None:
    """What the view sends: a custom message."""
    composer._handle_custom_msg(content, [])


def names(app: Application, group: str = "") -> list[str]:
    wf = app.workflow()
    holder = wf.find(group) if group else wf
    assert isinstance(holder, Workflow)
    return [n.name for n in holder.nodes]


def resent(composer: Composer) -> list[Any]:
    """Record the keys of every ``send_state`` call (the view snaps back on a re-sent spec)."""
    calls: list[Any] = []
    original = composer.send_state

    def spy(key: Any = None) -> None:
        calls.append(key)
        original(key)

    composer.send_state = spy  # type: ignore[method-assign]
    return calls


# -- the protocol --------------------------------------------------------------------------------------
def test_state_follows_the_protocol(app: Application) -> None:
    composer = Composer(app)
    state = composer.get_state()
    assert (state["_model_name"], state["_view_name"]) == ("ComposerModel", "ComposerView")
    assert state["_model_module"] == state["_view_module"] == "scanflow-jupyter"
    assert state["_model_module_version"] == state["_view_module_version"] == f"^{__version__}"
    assert state["spec"]["app"] == "demo" and state["spec"]["workflow"] == "main"
    root = state["spec"]["root"]
    assert (root["kind"], root["address"]) == ("workflow", "")
    gather, modeling, evaluate = root["nodes"]
    assert gather == {
        "kind": "executor",
        "name": "gather",
        "address": "gather",
        "depends_on": [],
        "script": "step.py",
        "function": None,
        "parameters": {"rows": {"type": "int", "default": 10}},
        "requirements": None,
        "retries": 0,
        "timeout": None,
        "resources": {"cpu": None, "memory": None, "gpu": 0},
    }
    assert (modeling["kind"], modeling["depends_on"]) == ("workflow", ["gather"])
    assert [n["address"] for n in modeling["nodes"]] == ["modeling/linear", "modeling/forest"]
    assert evaluate["depends_on"] == ["modeling"]
    assert {k: state[k] for k in ("positions", "error", "python_code", "saved_path", "message", "height")} == {
        "positions": {},
        "error": "",
        "python_code": "",
        "saved_path": "",
        "message": "",
        "height": "480px",
    }
    assert composer.app is app


def test_services_carry_their_model(make_app: Callable[..., Any]) -> None:
    app = make_app([{"name": "serve", "model_uri": "models:/m/1"}])
    app.workflows[0].kind = "online"
    (serve,) = Composer(app).spec["root"]["nodes"]
    assert (serve["kind"], serve["model_uri"]) == ("service", "models:/m/1")


def test_an_unknown_workflow_names_the_choices(app: Application) -> None:
    with pytest.raises(WorkflowValidationError, match="choose one of: main"):
        Composer(app, "nope")


# -- edits from the canvas -----------------------------------------------------------------------------
def test_add_puts_a_step_on_the_live_application(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="add", group="", name="report")
    send(composer, event="add", group="modeling", name="boost", script="boost.py")
    assert names(app) == ["gather", "modeling", "evaluate", "report"]
    assert names(app, "modeling") == ["linear", "forest", "boost"]
    report = app.workflow().find("report")
    assert isinstance(report, Executor) and report.script == "steps/report.py"
    assert app.workflow().find("modeling/boost").script == "boost.py"  # type: ignore[union-attr]
    assert [n["name"] for n in composer.spec["root"]["nodes"]][-1] == "report"
    assert composer.error == ""


def test_connect_and_disconnect(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="connect", source="modeling/linear", target="modeling/forest")
    assert app.workflow().find("modeling/forest").depends_on == ["linear"]
    assert composer.spec["root"]["nodes"][1]["nodes"][1]["depends_on"] == ["linear"]
    send(composer, event="disconnect", source="modeling/linear", target="modeling/forest")
    assert app.workflow().find("modeling/forest").depends_on == []


def test_delete_drops_the_node_its_dependencies_and_positions(app: Application) -> None:
    composer = Composer(app)
    composer.positions = {"modeling": {"x": 1, "y": 2}, "modeling/linear": {"x": 3, "y": 4}, "gather": {"x": 0, "y": 0}}
    send(composer, event="delete", address="modeling")
    assert names(app) == ["gather", "evaluate"]
    assert app.workflow().find("evaluate").depends_on == []
    assert composer.positions == {"gather": {"x": 0, "y": 0}}


def test_group_moves_siblings_and_keeps_their_layout(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="add", group="", name="report")
    send(composer, event="connect", source="evaluate", target="report")
    composer.positions = {"evaluate": {"x": 400, "y": 100}, "report": {"x": 600, "y": 140}, "gather": {"x": 0, "y": 0}}
    send(composer, event="group", addresses=["evaluate", "report"], name="finish")
    assert names(app) == ["gather", "modeling", "finish"]
    finish = app.workflow().find("finish")
    assert isinstance(finish, Workflow) and finish.depends_on == ["modeling"]
    assert [(n.name, n.depends_on) for n in finish.nodes] == [("evaluate", []), ("report", ["evaluate"])]
    assert composer.positions == {
        "gather": {"x": 0, "y": 0},
        "finish": {"x": 400.0, "y": 100.0},
        "finish/evaluate": {"x": float(GROUP_PAD), "y": float(GROUP_HEADER)},
        "finish/report": {"x": 200.0 + GROUP_PAD, "y": 40.0 + GROUP_HEADER},
    }


def test_parameters_are_set_typed_and_removed(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="set_param", address="gather", name="rows", value="25")  # keeps the declared int
    send(composer, event="set_param", address="gather", name="lr", value="0.5", type="float")
    send(composer, event="set_param", address="gather", name="shuffle", value="true", type="bool")
    gather = app.workflow().find("gather")
    assert isinstance(gather, Executor)
    assert {k: (p.type, p.default) for k, p in gather.parameters.items()} == {
        "rows": ("int", 25),
        "lr": ("float", 0.5),
        "shuffle": ("bool", True),
    }
    assert composer.spec["root"]["nodes"][0]["parameters"]["lr"] == {"type": "float", "default": 0.5}
    send(composer, event="remove_param", address="gather", name="lr")
    assert list(app.workflow().find("gather").parameters) == ["rows", "shuffle"]  # type: ignore[union-attr]


REFUSED = [
    (
        {"event": "connect", "source": "evaluate", "target": "gather"},
        r"dependency cycle gather -> evaluate -> modeling -> gather",
    ),
    ({"event": "add", "group": "", "name": "gather"}, r"two nodes are named 'gather'"),
    ({"event": "add", "group": "modeling", "name": "linear"}, r"two nodes are named 'linear' in workflow 'modeling'"),
    ({"event": "add", "group": "", "name": "Bad Name"}, r"not a valid DNS-1123 label.*'bad-name'"),
    ({"event": "add", "group": "gather", "name": "x"}, r"'gather' is a step, not a workflow"),
    ({"event": "connect", "source": "gather", "target": "modeling/linear"}, r"same workflow"),
    ({"event": "delete", "address": "nope"}, r"no node 'nope'"),
    ({"event": "group", "addresses": ["gather", "modeling/linear"], "name": "g"}, r"select siblings"),
    ({"event": "group", "addresses": ["gather"], "name": "evaluate"}, r"two nodes are named 'evaluate'"),
    ({"event": "set_param", "address": "gather", "name": "rows", "value": "many"}, r"expects an int, got 'many'"),
    ({"event": "set_param", "address": "gather", "name": "x", "value": 1, "type": "list"}, r"unknown parameter type"),
    ({"event": "set_param", "address": "gather", "name": "--x", "value": 1}, r"cannot be passed as '----x'"),
    ({"event": "set_param", "address": "modeling", "name": "x", "value": 1}, r"not an executor"),
    ({"event": "add", "group": ""}, r"does not understand .*no 'name'"),
]


@pytest.mark.parametrize(("content", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_a_refused_edit_shows_why_and_changes_nothing(app: Application, content: dict[str, Any], message: str) -> None:
    composer = Composer(app)
    before, spec, revision = app.model_dump(), composer.spec, composer.revision
    sent = resent(composer)
    send(composer, **content)
    assert composer.error, "the refusal must show on the canvas"
    assert re.search(message, composer.error), composer.error
    assert app.model_dump() == before
    assert composer.spec == spec
    assert "spec" in sent  # sent again, so a canvas that drew the edit ahead snaps back
    assert composer.revision == revision + 1  # the view knows Python answered
    send(composer, event="add", group="", name="fine")  # the next good edit clears the message
    assert composer.error == ""


def test_the_cycle_message_names_the_cycle(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="connect", source="evaluate", target="gather")
    assert "dependency cycle" in composer.error and "remove one of these dependencies" in composer.error


def test_unknown_messages_are_ignored(app: Application, caplog: pytest.LogCaptureFixture) -> None:
    composer = Composer(app)
    before = app.model_dump()
    send(composer, event="explode")
    composer._handle_custom_msg("not a dict", [])
    assert app.model_dump() == before and composer.error == ""
    assert "unknown message" in caplog.text


def test_edits_from_python_refuse_like_the_canvas(app: Application) -> None:
    composer = Composer(app)
    composer.add("report", after=["evaluate"])
    composer.set_param("report", "top", 5)
    assert app.workflow().find("report").depends_on == ["evaluate"]
    with pytest.raises(WorkflowValidationError, match="dependency cycle"):
        composer.connect("report", "gather")
    assert composer.spec["root"]["nodes"][-1]["parameters"] == {"top": {"type": "int", "default": 5}}


# -- changes made in Python ----------------------------------------------------------------------------
def test_refresh_redraws_a_change_made_in_python(app: Application) -> None:
    composer = Composer(app, watch=False)
    composer.positions = {"evaluate": {"x": 9, "y": 9}, "gather": {"x": 1, "y": 1}}
    app.workflow().remove("evaluate")
    app.workflow().add(Executor(name="report", function="tasks:report"), after=["modeling"])
    revision = composer.revision
    composer.refresh()
    nodes = composer.spec["root"]["nodes"]
    assert [(n["name"], n.get("function")) for n in nodes] == [
        ("gather", None),
        ("modeling", None),
        ("report", "tasks:report"),
    ]
    assert composer.positions == {"gather": {"x": 1, "y": 1}}  # positions of what is gone are dropped
    assert composer.revision == revision + 1


def test_a_cell_that_changes_the_application_redraws_the_canvas(app: Application, shell: InteractiveShell) -> None:
    shell.user_ns["app"] = app
    composer = Composer(app)
    shell.user_ns["c"] = composer
    shell.run_cell(
        "from scanflow_jupyter.workflow import Executor\napp.workflow().add(Executor(name='late', script='s.py'))"
    )
    assert [n["name"] for n in composer.spec["root"]["nodes"]][-1] == "late"
    revision = composer.revision
    shell.run_cell("x = 1")  # nothing changed: no redraw
    assert composer.revision == revision
    composer.close()
    assert composer._after_cell not in shell.events.callbacks["post_run_cell"]
    shell.run_cell("app.workflow().remove('late')")
    assert [n["name"] for n in composer.spec["root"]["nodes"]][-1] == "late"  # closed: no longer follows


def test_closing_the_view_side_stops_the_hook(app: Application, shell: InteractiveShell) -> None:
    composer = Composer(app)
    hooks = shell.events.callbacks["post_run_cell"]
    assert sum(h == composer._after_cell for h in hooks) == 1
    composer._unwatch()  # what the comm's close does
    composer._unwatch()  # twice is harmless
    assert sum(h == composer._after_cell for h in shell.events.callbacks["post_run_cell"]) == 0


def test_without_a_shell_nothing_is_watched(app: Application, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    composer = Composer(app)
    assert composer._hook is None
    composer.close()


def test_an_edit_on_one_canvas_redraws_the_others(app: Application) -> None:
    first, second = Composer(app, watch=False), Composer(app, watch=False)
    send(first, event="add", group="", name="report")
    assert [n["name"] for n in second.spec["root"]["nodes"]][-1] == "report"
    second.close()
    send(first, event="delete", address="report")
    assert [n["name"] for n in second.spec["root"]["nodes"]][-1] == "report"  # closed: left alone


def test_a_removed_workflow_shows_as_an_error(app: Application) -> None:
    composer = Composer(app, watch=False)
    app.workflows = [Workflow(name="other", nodes=[Executor(name="a", script="a.py")])]
    composer.refresh()
    assert "no workflow named 'main'" in composer.error


# -- save and export -----------------------------------------------------------------------------------
def test_save_writes_a_spec_that_loads_back_equal(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="add", group="modeling", name="boost")
    send(composer, event="set_param", address="modeling/boost", name="depth", value="3", type="int")
    send(composer, event="connect", source="modeling/linear", target="modeling/boost")
    send(composer, event="save")
    assert app.folder is not None
    path = app.folder / "scanflow.yaml"
    assert composer.saved_path == str(path) and composer.error == ""
    assert load(app.folder) == app
    stub = app.folder / "steps" / "boost.py"
    assert stub.is_file() and "saved" in composer.message and "steps/boost.py" in composer.message
    proc = subprocess.run(
        [sys.executable, str(stub), "--depth", "3"], capture_output=True, text=True, check=True, cwd=app.folder
    )
    assert "'depth': '3'" in proc.stdout
    app.validate()  # every script exists now


def test_save_keeps_an_existing_script(app: Application) -> None:
    composer = Composer(app)
    assert app.folder is not None
    (app.folder / "steps").mkdir()
    (app.folder / "steps" / "report.py").write_text("print('mine')\n")
    composer.add("report")
    composer.save()
    assert (app.folder / "steps" / "report.py").read_text() == "print('mine')\n"


def test_save_without_a_folder_says_how(tmp_path: Path) -> None:
    app = Application(name="demo", workflows=[Workflow(name="main", nodes=[Executor(name="a", function="m:f")])])
    composer = Composer(app)
    send(composer, event="save")
    assert "app.save(FOLDER)" in composer.error and composer.saved_path == ""
    app.save(tmp_path / "demo")
    send(composer, event="save")
    assert composer.error == "" and composer.saved_path == str(tmp_path / "demo" / "scanflow.yaml")


def test_save_reports_problems_left(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), {"name": "b", "script": "missing.py"}])
    composer = Composer(app)
    send(composer, event="save")
    assert "1 problem(s) left" in composer.message


def test_export_gives_code_that_rebuilds_the_application(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="add", group="", name="report")
    send(composer, event="set_param", address="report", name="top", value="5", type="int")
    send(composer, event="group", addresses=["evaluate", "report"], name="finish")
    send(composer, event="export")
    code = composer.python_code
    assert code.startswith("from scanflow_jupyter.workflow import")
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    rebuilt = namespace["app"]
    assert isinstance(rebuilt, Application) and rebuilt == app
    assert rebuilt.folder == app.folder
    assert composer.error == "" and "Python code" in composer.message


def test_the_exported_code_follows_later_edits(app: Application) -> None:
    # Issue 19: "Python that rebuilds the application" went stale after canvas edits.
    composer = Composer(app)
    send(composer, event="export")
    assert "report" not in composer.python_code
    send(composer, event="add", group="", name="report")
    assert "name='report'" in composer.python_code or 'name="report"' in composer.python_code
    app.workflow().find("gather").parameters.clear()  # type: ignore[union-attr]
    composer.refresh()
    assert "rows" not in composer.python_code.split("name='gather'")[-1].split("Executor(")[0]


def test_the_palette_adds_function_steps_and_nested_workflows(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="add", group="", name="score", kind="function")
    send(composer, event="add", group="", name="extra", kind="workflow")
    score = app.workflow().find("score")
    assert isinstance(score, Executor) and score.function == "tasks:score" and score.script is None
    assert isinstance(app.workflow().find("extra"), Workflow)
    send(composer, event="add", group="", name="odd", kind="rocket")
    assert "does not understand" in composer.error


def test_properties_are_set_through_the_inspector(app: Application) -> None:
    composer = Composer(app)
    send(composer, event="set_field", address="gather", field="retries", value="3")
    send(composer, event="set_field", address="gather", field="resources.memory", value="2Gi")
    gather = app.workflow().find("gather")
    assert isinstance(gather, Executor) and gather.retries == 3
    assert gather.resources is not None and gather.resources.memory == "2Gi"
    assert composer.spec["root"]["nodes"][0]["retries"] == 3
    send(composer, event="set_field", address="gather", field="timeout", value="-5")
    assert "gather.timeout" in composer.error
    assert gather.timeout is None


def test_text_for_frontends_without_the_widget(app: Application) -> None:
    text = Composer(app)._repr_mimebundle_()["text/plain"]  # type: ignore[index]
    assert text.splitlines()[:3] == [
        "Composer: demo / main",
        "  gather [step]",
        "  modeling [workflow]  (after gather)",
    ]
    assert repr(Composer(app)) == "Composer(app='demo', workflow='main')"


# -- the magic -----------------------------------------------------------------------------------------
def test_compose_returns_a_composer_of_the_current_application(sf: Magic, magics: Any, app: Application) -> None:
    sf(f"load {app.folder}")
    composer = sf("compose")
    assert isinstance(composer, Composer) and composer.app is magics.app
    composer.add("report", after=["evaluate"])
    assert "report" in [n.name for n in magics.app.workflow().nodes]  # %scanflow run sees it


def test_compose_names_a_workflow(sf: Magic, magics: Any) -> None:
    sf("new demo --workflow train")
    assert sf("compose train").workflow == "train"
    with pytest.raises(UsageError, match="no workflow named 'nope'; choose one of: train"):
        sf("compose nope")


def test_compose_needs_an_application(sf: Magic) -> None:
    with pytest.raises(UsageError, match="No application loaded"):
        sf("compose")


def test_a_step_cell_shows_on_an_open_composer(sf: Magic, shell: InteractiveShell, magics: Any, capsys: Any) -> None:
    sf("new demo")
    shell.run_cell("c = %scanflow compose")
    composer = shell.user_ns["c"]
    assert composer.spec["root"]["nodes"] == []
    shell.run_cell("%%scanflow step prep --param rows=3\nprint(rows)\n")
    shell.run_cell("%%scanflow step train --after prep\nprint('train')\n")
    nodes = composer.spec["root"]["nodes"]
    assert [(n["name"], n["depends_on"]) for n in nodes] == [("prep", []), ("train", ["prep"])]
    assert nodes[0]["parameters"] == {"rows": {"type": "int", "default": 3}}
    # and the canvas's edits reach the magics' application
    send(composer, event="add", group="", name="report")
    send(composer, event="connect", source="train", target="report")
    assert magics.app.workflow().find("report").depends_on == ["train"]
