"""GraphView without a browser: its synced state per PROTOCOL.md, live updates from the engine's threads,
the view's run and cancel messages, past runs, and unsubscribing on close."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scanflow_jupyter as sf
from scanflow_jupyter import __version__
from scanflow_jupyter.engine import global_bus
from scanflow_jupyter.errors import RunNotFoundError, WorkflowValidationError
from scanflow_jupyter.notebook import GraphView
from scanflow_jupyter.notebook.widgets.graph import mlflow_store, mlflow_url

from .conftest import step, wait_until

INFO_KEYS = {
    "params",
    "state",
    "duration",
    "log_tail",
    "mlflow_run_id",
    "mlflow_url",
    "mlflow_store",
    "mlflow_experiment_id",
    "metrics",
    "error",
    "verdict",
}


@pytest.fixture
def nested(make_app: Callable[..., Any]) -> Any:
    return make_app(
        [
            step("gather", parameters={"rows": 10, "sleep": 0.0}),
            {"name": "modeling", "depends_on": ["gather"], "nodes": [step("linear"), step("forest")]},
            step("evaluate", "modeling"),
        ]
    )


def record(view: GraphView) -> list[tuple[str, dict[str, str]]]:
    """Every value ``states`` takes, with the name of the thread that set it."""
    seen: list[tuple[str, dict[str, str]]] = []
    view.observe(lambda change: seen.append((threading.current_thread().name, dict(change["new"]))), "states")
    return seen


def test_state_follows_the_protocol(nested: Any) -> None:
    view = GraphView(nested)
    state = view.get_state()
    assert (state["_model_name"], state["_view_name"]) == ("GraphModel", "GraphView")
    assert state["_model_module"] == state["_view_module"] == "scanflow-jupyter"
    assert state["_model_module_version"] == state["_view_module_version"] == f"^{__version__}"
    assert state["spec"] == {
        "app": "demo",
        "workflow": "main",
        "root": {
            "kind": "workflow",
            "name": "main",
            "address": "",
            "depends_on": [],
            "nodes": [
                {"kind": "executor", "name": "gather", "address": "gather", "depends_on": []},
                {
                    "kind": "workflow",
                    "name": "modeling",
                    "address": "modeling",
                    "depends_on": ["gather"],
                    "nodes": [
                        {"kind": "executor", "name": "linear", "address": "modeling/linear", "depends_on": []},
                        {"kind": "executor", "name": "forest", "address": "modeling/forest", "depends_on": []},
                    ],
                },
                {"kind": "executor", "name": "evaluate", "address": "evaluate", "depends_on": ["modeling"]},
            ],
        },
    }
    assert state["states"] == {}
    assert list(state["info"]) == ["gather", "modeling/linear", "modeling/forest", "evaluate"]
    assert all(set(entry) == INFO_KEYS for entry in state["info"].values())
    assert state["info"]["gather"] == {
        "params": {"rows": 10, "sleep": 0.0},
        "state": "pending",
        "duration": None,
        "log_tail": "",
        "mlflow_run_id": None,
        "mlflow_url": None,
        "mlflow_store": None,
        "mlflow_experiment_id": None,
        "metrics": {},
        "error": None,
        "verdict": None,
    }
    assert (state["collapsed"], state["selected"], state["run_status"], state["message"], state["height"]) == (
        [],
        "",
        "",
        "",
        "420px",
    )


def test_services_are_nodes_of_their_kind(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), {"name": "serve", "model_uri": "models:/m/1", "depends_on": ["a"]}])
    nodes = GraphView(app).spec["root"]["nodes"]
    assert [(n["kind"], n["depends_on"]) for n in nodes] == [("executor", []), ("service", ["a"])]


def test_unknown_workflow_names_the_choices(nested: Any) -> None:
    with pytest.raises(WorkflowValidationError, match="no workflow named 'nope'; choose one of: main"):
        GraphView(nested, "nope")


def test_run_from_another_thread_colours_every_step(nested: Any) -> None:
    view = GraphView(nested)
    seen = record(view)
    worker = threading.Thread(target=lambda: sf.run(nested, workers=2, tracking=False), name="driver")
    worker.start()
    worker.join(60)
    assert view.states == dict.fromkeys(["gather", "modeling/linear", "modeling/forest", "evaluate"], "succeeded")
    assert any(states.get("gather") == "running" for _, states in seen)
    assert any(states.get("modeling/linear") == "running" for _, states in seen)
    assert all(thread != threading.main_thread().name for thread, _ in seen)  # set from the engine's threads
    assert view.run_status == "succeeded"
    assert view.run_id is not None and view.message == f"run {view.run_id} succeeded"
    gather = view.info["gather"]
    assert gather["state"] == "succeeded" and gather["duration"] is not None and gather["duration"] >= 0
    assert gather["log_tail"] == "done gather" and gather["error"] is None
    assert gather["mlflow_run_id"] is None  # tracking off


def test_failed_step_shows_error_log_tail_and_skips(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"fail": True}), step("c", "b")])
    view = GraphView(app)
    result = sf.run(app, tracking=False, check=False)
    assert result.status == "failed"
    assert view.states == {"a": "succeeded", "b": "failed", "c": "skipped"}
    assert view.info["b"]["error"] == "exit code 3"
    assert view.info["b"]["log_tail"] == "something went wrong in the step"
    assert view.info["c"]["error"] == "an upstream step did not succeed"
    assert view.run_status == "failed"
    assert view.message == f"run {result.run_id} failed (b failed)"


CHECKER_STEP = """
import sys
print("loading the detector")
print("DRIFT: p = 0.0004 (tail test, alpha 0.05, 200 samples against 300 held-out reference samples)")
print("61 of 200 samples (30.5%) score above the threshold 0.2113 (10% expected without drift)")
"""


def test_a_checker_step_that_found_drift_carries_its_verdict(make_app: Callable[..., Any]) -> None:
    # Issue 19: a checker step whose verdict was drift showed as a plain green "Succeeded".
    checker = {"name": "check", "script": "check.py", "depends_on": ["a"]}
    app = make_app([step("a"), checker], {"check.py": CHECKER_STEP})
    view = GraphView(app)
    result = sf.run(app, tracking=False, check=False)
    assert result.status == "succeeded" and view.states["check"] == "succeeded"
    assert view.info["check"]["verdict"] == (
        "DRIFT: p = 0.0004 (tail test, alpha 0.05, 200 samples against 300 held-out reference samples)"
    )
    assert view.info["a"]["verdict"] is None
    again = GraphView.from_run(app, result.run_id)  # a past run read from disk says the same
    assert again.info["check"]["verdict"] == view.info["check"]["verdict"]


def test_tracked_run_gives_each_step_its_mlflow_run(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), step("b", "a")])
    view = GraphView(app)
    result = sf.run(app)
    ids = {a: view.info[a]["mlflow_run_id"] for a in ("a", "b")}
    assert ids == {a: result.state.nodes[a].mlflow_run_id for a in ("a", "b")} and all(ids.values())
    assert view.info["a"]["mlflow_url"] is None  # a SQLite store has no web UI to link to
    # ... so the details open the run in the run browser: the store and the experiment go with the id.
    assert view.info["a"]["mlflow_store"] == f"sqlite:///{app.folder / '.scanflow' / 'mlflow.db'}"
    assert view.info["a"]["mlflow_experiment_id"] == result.state.experiment_id


METRIC_STEP = """
import mlflow
with mlflow.start_run():
    mlflow.log_metric("train_accuracy", 0.25, step=0)
    mlflow.log_metric("train_accuracy", 0.953, step=1)
    mlflow.log_metric("n_train", 1257)
"""


def test_the_details_show_a_steps_metrics_last_values(make_app: Callable[..., Any]) -> None:
    # Issue 19: the details panel showed no metrics.
    app = make_app([step("a"), {"name": "train", "script": "train.py", "depends_on": ["a"]}], {"train.py": METRIC_STEP})
    view = GraphView(app)
    result = sf.run(app)
    assert result.ok
    assert view.info["train"]["metrics"] == {"n_train": 1257.0, "train_accuracy": 0.953}
    assert view.info["a"]["metrics"] == {}
    again = GraphView.from_run(app, result.run_id)
    assert again.info["train"]["metrics"] == view.info["train"]["metrics"]
    untracked = GraphView(app)
    sf.run(app, tracking=False, force=True)
    assert untracked.info["train"]["metrics"] == {} and untracked.info["train"]["state"] == "succeeded"


def test_mlflow_store_only_for_stores_that_are_not_servers() -> None:
    assert mlflow_store("sqlite:////tmp/m.db") == "sqlite:////tmp/m.db"
    assert mlflow_store("file:///tmp/mlruns") == "file:///tmp/mlruns"
    assert mlflow_store("http://mlflow:5000") is None
    assert mlflow_store(None) is None


def test_mlflow_url_only_for_a_server() -> None:
    assert mlflow_url("http://mlflow:5000/", "3", "abc") == "http://mlflow:5000/#/experiments/3/runs/abc"
    assert mlflow_url("https://x.org/mlflow", "3", "abc") == "https://x.org/mlflow/#/experiments/3/runs/abc"
    assert mlflow_url("sqlite:////tmp/m.db", "3", "abc") is None
    assert mlflow_url("http://mlflow:5000", "3", None) is None


def test_other_apps_and_workflows_are_ignored(make_app: Callable[..., Any], tmp_path: Path) -> None:
    app = make_app([step("a")])
    twin = make_app([step("a")], folder=tmp_path / "elsewhere")  # same name, another folder
    view = GraphView(app)
    sf.run(twin, tracking=False)
    assert view.states == {} and view.run_status == ""
    sf.run(app, tracking=False)
    assert view.states == {"a": "succeeded"}


def test_a_view_may_show_only_the_runs_it_drives(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a")])
    view = GraphView(app, run_options={"tracking": False}, follow_all=False)
    sf.run(app, tracking=False)
    assert view.states == {} and view.run_id is None
    view.start(force=True)
    result = view.wait(60)
    assert result is not None and view.run_id == result.run_id and view.states == {"a": "succeeded"}


def test_run_message_starts_one_background_run(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a", parameters={"sleep": 0.5}), step("b", "a")])
    view = GraphView(app, run_options={"tracking": False})
    seen = record(view)
    view._handle_custom_msg({"event": "run"}, [])
    assert view.running
    view._handle_custom_msg({"event": "run"}, [])
    assert view.message == "A run of this workflow is already going: wait for it to end, or cancel it."
    result = view.wait(60)
    assert result is not None and result.ok
    assert view.states == {"a": "succeeded", "b": "succeeded"} and view.run_status == "succeeded"
    assert any(states.get("a") == "running" for _, states in seen)
    assert len(sf.engine.list_runs(app.folder)) == 1


def test_cancel_message_stops_the_run(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a", parameters={"sleep": 30}), step("b", "a")])
    view = GraphView(app, run_options={"tracking": False})
    view._handle_custom_msg({"event": "run"}, [])
    wait_until(lambda: view.states.get("a") == "running", what="step a to run")
    view._handle_custom_msg({"event": "cancel"}, [])
    result = view.wait(30)
    assert result is not None and result.status == "cancelled"
    assert view.states == {"a": "cancelled", "b": "cancelled"} and view.run_status == "cancelled"


def test_cancel_before_scheduling_still_cancels(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a", parameters={"sleep": 30})])
    view = GraphView(app, run_options={"tracking": False})
    started = threading.Event()
    original = view.follow

    def follow_then_cancel(workflow_run: Any) -> None:
        original(workflow_run)
        assert workflow_run.scheduler is None
        view.cancel()  # the run has no scheduler yet: the view cancels it once it has one
        started.set()

    view.follow = follow_then_cancel  # type: ignore[method-assign]
    result = view.run()
    assert started.is_set() and result.status == "cancelled"


def test_cancel_without_a_run_says_so(nested: Any) -> None:
    view = GraphView(nested)
    view._handle_custom_msg({"event": "cancel"}, [])
    assert view.message == "No run to cancel: this view is not driving one."


def test_error_starting_a_run_shows_in_the_view(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a", "nope")])
    view = GraphView(app, run_options={"tracking": False})
    view._handle_custom_msg({"event": "run"}, [])
    assert view.wait(30) is None
    assert view.run_status == "failed"
    assert "depends on unknown node 'nope'" in view.message


def test_from_run_shows_a_past_run(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"fail": True})])
    result = sf.run(app, tracking=False, check=False)
    view = GraphView.from_run(app, result.run_id)
    assert view.run_id == result.run_id
    assert view.states == {"a": "succeeded", "b": "failed"}
    assert view.run_status == "failed"
    assert view.info["b"]["error"] == "exit code 3"
    assert view.info["b"]["log_tail"] == "something went wrong in the step"
    assert view.info["a"]["log_tail"] == "done a" and view.info["a"]["duration"] is not None
    with pytest.raises(RunNotFoundError, match="No run 'nope'"):
        GraphView.from_run(app, "nope")


def test_close_unsubscribes(nested: Any) -> None:
    before = len(global_bus._listeners)
    view = GraphView(nested)
    assert len(global_bus._listeners) == before + 1
    view.close()
    assert len(global_bus._listeners) == before
    sf.run(nested, tracking=False)
    assert view.states == {}
    view.close()  # twice is fine


def test_comm_closed_by_the_frontend_unsubscribes(nested: Any) -> None:
    before = len(global_bus._listeners)
    view = GraphView(nested)
    view.comm.handle_close({"content": {"data": {}}})
    assert len(global_bus._listeners) == before


def test_dot_and_text_for_frontends_without_widgets(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"fail": True})])
    view = GraphView(app)
    sf.run(app, tracking=False, check=False)
    assert '"sf/a"' in view.dot and "#b6e3a8" in view.dot and "#f4a6a6" in view.dot  # succeeded, failed fills
    bundle = view._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
    text = bundle["text/plain"]
    assert text.startswith(f"demo / main (run {view.run_id}: failed)")
    assert "  b " in text and "exit code 3" in text
    assert repr(view) == "GraphView(app='demo', workflow='main', run_status='failed')"


def test_a_new_run_redraws_steps_added_since(make_app: Callable[..., Any]) -> None:
    from scanflow_jupyter.workflow import Executor

    app = make_app([step("a")])
    view = GraphView(app)
    app.workflow().add(Executor(name="b", script="step.py"), after=["a"])
    sf.run(app, tracking=False)
    assert [n["name"] for n in view.spec["root"]["nodes"]] == ["a", "b"]
    assert view.states == {"a": "succeeded", "b": "succeeded"}


def test_refresh_redraws_and_keeps_states(make_app: Callable[..., Any]) -> None:
    from scanflow_jupyter.workflow import Executor

    app = make_app([step("a"), step("b", "a")])
    view = GraphView(app)
    sf.run(app, tracking=False)
    app.workflow().remove("b")
    app.workflow().add(Executor(name="c", script="step.py", parameters={"k": 1}), after=["a"])
    view.refresh()
    assert [n["name"] for n in view.spec["root"]["nodes"]] == ["a", "c"]
    assert view.states == {"a": "succeeded"}
    assert view.info["a"]["log_tail"] == "done a" and view.info["c"]["params"] == {"k": 1}
