"""The RunBrowser widget and ``%scanflow runs``, on a real SQLite store and a real tracked workflow run."""

from __future__ import annotations

import gc
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError

from scanflow_jupyter.errors import RunQueryError, TrackingError
from scanflow_jupyter.notebook import GraphView, RunBrowser
from scanflow_jupyter.notebook.widgets import runs as runs_widget
from scanflow_jupyter.notebook.widgets.runs import application_from_graph

from ..tracking.runstores import (
    HTML_ARTIFACT,
    HTML_PARAM,
    HTML_VALUE,
    LoopbackProxy,
    MlflowServer,
    Populated,
    free_port,
    populate,
)

Magic = Callable[[str], Any]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Populated:
    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(mlflow_template, folder / "mlflow.db")
    return populate(f"sqlite:///{folder / 'mlflow.db'}", folder)


def msg(browser: RunBrowser, **content: Any) -> None:
    """A message from the view, as the comm delivers it."""
    browser._on_msg(browser, content, [])


def test_first_page_columns_and_paging(store: Populated) -> None:
    b = RunBrowser(store.uri, experiments=["browse"], order_by=["attributes.start_time ASC"], page_size=10)
    assert b.experiment_ids == [store.experiment] and b.page["backend"] == "sql"
    assert b.columns[:2] == ["attributes.start_time", "attributes.duration"]
    assert {"metrics.acc", "params.p0"} <= set(b.columns)
    assert [r["run_id"] for r in b.rows] == store.runs[:10]
    assert b.page == {
        "index": 0,
        "size": 10,
        "has_prev": False,
        "has_next": True,
        "total": 27,
        "backend": "sql",
    }  # 24 + parent + wide + html
    msg(b, event="next")
    assert [r["run_id"] for r in b.rows] == store.runs[10:20] and b.message == "11-20 of 27"
    msg(b, event="next")
    msg(b, event="next")
    assert b.page["index"] == 2 and not b.page["has_next"]  # the last page: next does nothing
    msg(b, event="prev")
    assert [r["run_id"] for r in b.rows] == store.runs[10:20]


def test_filter_sort_and_quick_filters_from_the_view(store: Populated) -> None:
    b = RunBrowser(store.uri, experiments=["browse"], page_size=50)
    b.filter = "metrics.acc >= 0.9 OR params.p0 = '1'"
    b.order_by = ["metrics.acc DESC"]
    names = [r["run_name"] for r in b.rows]
    assert names[:3] == ["run-23", "run-22", "run-21"] and "run-01" in names and "run-02" not in names
    b.quick = {"status": "FAILED"}
    assert {r["status"] for r in b.rows} == {"FAILED"}
    b.quick = {"since": "2023-11-14", "until": "2023-11-14"}  # the runs' day (1,700,000,000 s)
    assert len(b.rows) > 0 and b.error == ""
    b.quick = {"since": "yesterday"}
    assert "Quick filter since='yesterday' is not a date" in b.error


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("filter", "metrics.acc >", r"Invalid filter 'metrics.acc >'"),
        ("columns", ["metrics.acu"], r"Unknown column 'metrics.acu'.*Did you mean 'metrics.acc'"),
        ("order_by", ["color DESC"], r"Unknown column 'color'"),
    ],
)
def test_a_mistake_in_the_view_shows_and_the_page_stays(store: Populated, trait: str, value: Any, message: str) -> None:
    b = RunBrowser(store.uri, experiments=["browse"], page_size=5)
    before = list(b.rows)
    setattr(b, trait, value)
    assert b.rows == before
    assert re.search(message, b.error), b.error
    b.filter, b.columns, b.order_by = "", ["metrics.acc"], []
    assert b.error == "" and b.rows  # usable again


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"filter": "params.p0 = "}, RunQueryError, r"Invalid filter 'params.p0 ='"),
        ({"columns": ["foo.bar"]}, RunQueryError, r"Unknown column 'foo.bar'"),
        ({"experiments": ["nope"]}, TrackingError, r"No experiment 'nope' in .*its experiments: Default, browse"),
    ],
)
def test_bad_arguments_raise(store: Populated, kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        RunBrowser(store.uri, **kwargs)


def test_a_refused_browser_leaves_nothing_open(
    store: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipywidgets.widgets.widget import _instances

    def browsers() -> set[str]:
        return {k for k, w in _instances.items() if isinstance(w, RunBrowser)}

    before = browsers()
    with pytest.raises(RunQueryError, match="Invalid filter"):
        RunBrowser(store.uri, filter="metrics.acc >")
    assert browsers() == before  # the widget made before the filter was refused is closed
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(TrackingError, match="There is no MLflow store"):
        RunBrowser(f"sqlite:///{tmp_path / 'nope.db'}")
    gc.collect()
    assert unraisable == []  # its __del__ (close) did not fail on the store it never opened


def test_an_experiment_with_no_runs(store: Populated) -> None:
    b = RunBrowser(store.uri, experiments=["nothing-here"])
    assert b.rows == [] and b.message == "No runs in these experiments yet." and b.error == ""
    assert b.columns == ["attributes.start_time", "attributes.duration"]


def test_tree_expand_select_compare_and_dataframe(store: Populated) -> None:
    b = RunBrowser(store.uri, experiments=["browse"], page_size=100)
    parent = next(r for r in b.rows if r["run_id"] == store.parent)
    assert parent["children"] == 2 and not set(store.children) & {r["run_id"] for r in b.rows}
    msg(b, event="expand", run_id=store.parent)
    assert [r["run_id"] for r in b.children[store.parent]] == store.children
    b.selected = [store.runs[3], store.runs[4], store.wide]
    frame = b.selected_runs()
    assert isinstance(frame, pd.DataFrame) and list(frame["run_id"]) == b.selected
    msg(b, event="compare")
    c = b.compare_data
    assert b.mode == "compare" and [r["run_id"] for r in c["runs"]] == b.selected
    p0 = next(p for p in c["params"] if p["key"] == "p0")
    model = next(p for p in c["params"] if p["key"] == "model")
    assert p0 == {"key": "p0", "values": ["3", "0", None], "differs": True}
    assert model["values"] == ["a", "a", None]
    assert c["metrics_total"] == 3000 + 3 and len(c["metrics"]) == 500  # thousands of keys: capped
    assert "acc" in c["histories"]
    msg(b, event="charts", keys=["curve"], full=False)
    (curve,) = b.compare_data["histories"]["curve"]
    assert curve["total"] == 1000 and curve["downsampled"] and len(curve["steps"]) <= 500
    msg(b, event="charts", keys=["curve"], full=True)
    assert len(b.compare_data["histories"]["curve"][0]["steps"]) == 1000
    assert b.compare_data["parallel"]["axes"][0] == "params.p0"
    b.selected = [store.runs[0]]
    b.compare()
    assert "Select at least two runs" in b.error


def test_a_filter_matching_only_child_runs_shows_them_under_their_parent(store: Populated) -> None:
    # Issue 19: in the tree, `metrics.train_accuracy > 0.8` said "No runs match." (the matches were step runs).
    b = RunBrowser(store.uri, experiments=["browse"], filter="metrics.acc < 0.2")
    assert [r["run_id"] for r in b.rows] == [store.parent]
    assert sorted(r["run_id"] for r in b.children[store.parent]) == sorted(store.children)
    assert b.message == "1-2 of 2 (2 child runs shown under their parents)"
    b.tree = False  # the flat list: the same two runs, no parent
    assert sorted(r["run_id"] for r in b.rows) == sorted(store.children) and b.children == {}
    b.tree = True
    b.filter = ""  # no filter: top-level runs only, children closed
    assert store.parent in {r["run_id"] for r in b.rows} and b.children == {}
    assert not set(store.children) & {r["run_id"] for r in b.rows}


def test_comparing_workflow_runs_with_nothing_logged_says_why_and_offers_their_step_runs(
    tmp_path: Path, mlflow_template: Path
) -> None:
    # Issue 19: two workflow runs compared showed empty Params and Metrics without a word (parents carry nothing).
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    shutil.copy(mlflow_template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("wf", artifact_location=(tmp_path / "art").as_uri())
    parents, steps = [], []
    for i in range(2):
        parent = client.create_run(exp, run_name=f"pipeline {i}").info.run_id
        step = client.create_run(exp, run_name="train", tags={"mlflow.parentRunId": parent}).info.run_id
        client.log_batch(step, metrics=[Metric("train_accuracy", 0.8 + i / 10, 0, 0)], params=[Param("lr", str(i))])
        for run_id in (step, parent):
            client.set_terminated(run_id, "FINISHED")
        parents.append(parent)
        steps.append(step)
    b = RunBrowser(uri, experiments=["wf"])
    b.compare(parents)
    c = b.compare_data
    assert c["params"] == [] and c["metrics"] == []
    assert "they are workflow runs, and each step logs its own" in c["empty_note"]
    assert sorted(c["step_runs"]) == sorted(steps)
    msg(b, event="compare_steps")
    assert sorted(r["run_id"] for r in b.compare_data["runs"]) == sorted(steps)
    # Two step runs named "train": each with its workflow run's name.
    assert sorted(r["run_name"] for r in b.compare_data["runs"]) == ["pipeline 0 / train", "pipeline 1 / train"]
    assert b.compare_data["empty_note"] == "" and b.compare_data["metrics"][0]["key"] == "train_accuracy"
    b.close()


def test_chart_requests_are_capped_at_full_resolution_too(store: Populated, monkeypatch: pytest.MonkeyPatch) -> None:
    """runs x keys x points is bounded: "full resolution" over many runs and keys would send every point."""
    from scanflow_jupyter.notebook.widgets import runs

    monkeypatch.setattr(runs, "CHART_POINTS", 100)
    monkeypatch.setattr(runs, "MAX_CHART_POINTS", 600)
    monkeypatch.setattr(runs, "MAX_CHART_RUNS", 2)
    b = RunBrowser(store.uri, experiments=["browse"])
    b.compare([store.wide, store.runs[1], store.runs[2]], chart_keys=["curve", "acc"])
    c = b.compare_data
    (curve,) = c["histories"]["curve"]  # the wide run (the third run is not charted)
    assert curve["downsampled"] and len(curve["steps"]) <= 100
    assert [h["run_id"] for h in c["histories"]["acc"]] == [store.runs[1]]
    assert c["chart_note"] == "Charts show the first 2 of 3 runs and 2 of 2 keys."
    msg(b, event="charts", keys=["curve", "acc"], full=True)
    c = b.compare_data
    (curve,) = c["histories"]["curve"]
    assert curve["total"] == 1000 and curve["downsampled"] and 100 < len(curve["steps"]) <= 300  # 600 / 2 series
    assert sum(len(h["steps"]) for found in c["histories"].values() for h in found) <= 600
    assert "Full resolution is capped at 600 points a request (2 runs x 2 keys)" in c["chart_note"]
    assert "at most 300 points" in c["chart_note"]
    monkeypatch.setattr(runs, "MAX_CHART_POINTS", 200_000)
    msg(b, event="charts", keys=["curve"], full=True)
    assert len(b.compare_data["histories"]["curve"][0]["steps"]) == 1000  # within the cap: every point


def test_open_a_run_preview_artifacts_and_html_stays_text(store: Populated) -> None:
    b = RunBrowser(store.uri, experiments=["browse"])
    msg(b, event="open", run_id=store.html)
    assert b.mode == "run" and b.run["params"] == {HTML_PARAM: HTML_VALUE} and b.graph is None
    assert b.run["run_name"] == "<i>html</i>" and b.run["mlflow_url"] == ""
    msg(b, event="preview", path=HTML_ARTIFACT)
    assert b.preview["kind"] == "text" and b.preview["text"] == "<h1>not rendered</h1>"
    msg(b, event="preview", path="table.csv")
    assert b.preview["rows"][1] == ["<b>x</b>", "1"]
    msg(b, event="preview", path="plot.png")
    assert b.preview["data_url"].startswith("data:image/png;base64,")
    msg(b, event="open", run_id=store.wide)
    assert len(b.run["metrics"]) == 1000 and b.run["metrics_total"] == 3001
    msg(b, event="run_metrics", search="m2999")
    assert b.run["metrics"] == {"m2999": 2999.0}
    msg(b, event="open", run_id="0" * 32)
    assert "No run '000" in b.error and b.run["run_id"] == store.wide  # the open run stays


def test_csv_download_of_the_current_page(store: Populated, tmp_path: Path) -> None:
    b = RunBrowser(
        store.uri, experiments=["browse"], columns=["params.model", "metrics.acc"], order_by=["metrics.acc DESC"]
    )
    b.page_size = 2
    sent: list[dict[str, Any]] = []
    b.send = sent.append
    msg(b, event="download")
    assert sent[0]["filename"] == "runs-page-1.csv"
    assert sent[0]["text"].splitlines() == [
        "run_id,run_name,status,params.model,metrics.acc",
        f"{store.runs[23]},run-23,FINISHED,b,0.96",
        f"{store.runs[22]},run-22,FINISHED,b,0.94",
    ]
    everything = b.to_csv(tmp_path / "all.csv", all_pages=True)
    assert len(everything.splitlines()) == 1 + 27 and (tmp_path / "all.csv").read_text() == everything


def test_a_tracked_workflow_run_opens_with_its_graph(make_app: Callable[..., Any]) -> None:
    from scanflow_jupyter.engine.runner import run

    app = make_app(
        [
            {"name": "prep", "script": "step.py"},
            {"name": "modeling", "depends_on": ["prep"], "nodes": [{"name": "fit", "script": "step.py"}]},
        ]
    )
    result = run(app, tracking=True)
    assert result.ok
    b = RunBrowser(app=app)
    (row,) = b.rows
    assert row["kind"] == "run" and row["workflow"] == "main" and row["children"] >= 2
    msg(b, event="expand", run_id=row["run_id"])
    kinds = {r["node"]: r["kind"] for r in b.children[row["run_id"]]}
    assert kinds == {"prep": "step", "modeling": "workflow"}
    msg(b, event="open", run_id=row["run_id"])
    assert isinstance(b.graph, GraphView)
    assert b.graph.states == {"prep": "succeeded", "modeling/fit": "succeeded"}
    assert b.graph.run_status == "succeeded" and b.graph.info["prep"]["mlflow_run_id"]
    graph = b.graph
    msg(b, event="open", run_id=row["run_id"])
    assert graph.comm is None or graph is not b.graph  # the old graph widget is closed


def test_application_from_graph_rebuilds_nesting() -> None:
    app = application_from_graph(
        "demo",
        {
            "workflow": "main",
            "nodes": {"a": [], "g/x": ["a"], "g/y": ["g/x"], "z": ["g/x", "g/y"]},
            "groups": {"g": ["g/x", "g/y"]},
        },
    )
    wf = app.workflow("main")
    assert [n.name for n in wf.nodes] == ["g", "a", "z"]
    assert wf.find("g").depends_on == ["a"] and wf.find("z").depends_on == ["g"]
    assert wf.find("g/y").depends_on == ["x"]


# -- %scanflow runs -------------------------------------------------------------------------------------
def test_magic_returns_the_browser(make_app: Callable[..., Any], sf: Magic, store: Populated) -> None:
    b = sf(f"runs --uri {store.uri} -e browse -f \"params.model = 'b'\" -s 'metrics.acc DESC' -c metrics.acc -n 5")
    assert isinstance(b, RunBrowser) and len(b.rows) == 5 and b.columns == ["metrics.acc"]
    assert b.rows[0]["run_name"] == "run-23"
    assert "RunBrowser(" in b._repr_mimebundle_()["text/plain"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("runs", r"No application loaded.*or pass --uri URI"),
        ("runs --uri sqlite:////nowhere/x.db", r"There is no MLflow store at '/nowhere/x.db' yet"),
        ("runs --uri URI -n 5000", r"-n 5000 is too many rows per page"),
        ("runs --uri URI -f 'metrics.acc >'", r"Invalid filter 'metrics.acc >'"),
        ("runs --uri URI -c nope.x", r"Unknown column 'nope.x'"),
    ],
)
def test_magic_mistakes(sf: Magic, store: Populated, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sf(line.replace("URI", store.uri))


def test_magic_unreachable_server(sf: Magic) -> None:
    with pytest.raises(UsageError, match=r"Cannot reach the MLflow tracking server"):
        sf(f"runs --uri http://127.0.0.1:{free_port()}")


def test_the_widget_survives_its_server_going_away(tmp_path: Path, mlflow_template: Path) -> None:
    """The server goes away (its port refuses connections and open ones drop, as when the process is killed)
    and comes back on the same port. The browser talks to a real ``mlflow server`` through a loopback proxy
    that is cut and restored, so the server starts once."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    server = MlflowServer(tmp_path / "srv")
    server.folder.mkdir(parents=True)
    shutil.copy(mlflow_template, server.folder / "server.db")  # its tables made once, not at each server start
    server.start()
    proxy = LoopbackProxy(server.port).start()
    try:
        client = MlflowClient(server.uri)
        exp = client.create_experiment("browse")
        runs = []
        for i in range(7):  # two pages of 5
            run = client.create_run(exp, run_name=f"run-{i}", start_time=1_700_000_000_000 + i * 60_000)
            client.log_batch(run.info.run_id, metrics=[Metric("acc", i / 10, 0, 0)], params=[Param("p0", str(i))])
            client.set_terminated(run.info.run_id, "FINISHED")
            runs.append(run.info.run_id)
        b = RunBrowser(proxy.uri, experiments=["browse"], page_size=5)
        rows = list(b.rows)
        assert len(rows) == 5 and b.page["backend"] == "mlflow" and b.page["total"] is None and b.page["has_next"]
        proxy.cut()
        msg(b, event="next")
        assert "Cannot reach the MLflow tracking server" in b.error and b.rows == rows
        msg(b, event="open", run_id=runs[0])
        assert "Cannot reach the MLflow tracking server" in b.error and b.mode == "table"
        msg(b, event="refresh")
        assert "Cannot reach the MLflow tracking server" in b.error and b.rows == rows
        proxy.restore()  # the same port and store
        msg(b, event="refresh")
        assert b.error == "" and [r["run_id"] for r in b.rows] == [r["run_id"] for r in rows]
        msg(b, event="next")
        assert b.error == "" and [r["run_id"] for r in b.rows] == runs[1::-1]  # newest first: the last two
        msg(b, event="open", run_id=runs[0])
        assert b.mode == "run" and b.run["params"] == {"p0": "0"}
        assert b.run["mlflow_url"] == f"{proxy.uri}/#/experiments/{exp}/runs/{runs[0]}"
    finally:
        proxy.cut()
        server.stop(grace=0)


def _runs_with_params(tmp_path: Path, mlflow_template: Path, params: list[dict[str, str]], loss: list[float]) -> str:
    """A SQLite store with one run per entry of ``params``, each with a final ``loss`` (started in order)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    shutil.copy(mlflow_template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("p", artifact_location=(tmp_path / "art").as_uri())
    for i, (values, value) in enumerate(zip(params, loss, strict=True)):
        run = client.create_run(exp, run_name=f"run-{i}", start_time=1_700_000_000_000 + i * 1000).info.run_id
        client.log_batch(run, params=[Param(k, v) for k, v in values.items()], metrics=[Metric("loss", value, 0, 0)])
        client.set_terminated(run, "FINISHED")
    return uri


def test_a_numeric_param_sorts_as_numbers_across_pages(
    tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 19: params sorted as strings, 10 below 8. MLflow (and the store's SQL path, checked against it) sorts
    # params as text; the browser sorts a param whose values are all numbers itself.
    iters = ["8", "10", "9", "100", "2"]
    uri = _runs_with_params(tmp_path, mlflow_template, [{"max_iter": v, "model": "m" + v} for v in iters], [0.1] * 5)
    b = RunBrowser(uri, experiments=["p"], columns=["metrics.loss"], page_size=2, tree=False)
    b.order_by = ["params.max_iter ASC"]
    seen = [r["run_name"] for r in b.rows]
    assert b.page["has_next"] and b.message == "1-2 of 5"
    msg(b, event="next")
    seen += [r["run_name"] for r in b.rows]
    msg(b, event="next")
    seen += [r["run_name"] for r in b.rows]
    assert seen == ["run-4", "run-0", "run-2", "run-1", "run-3"]  # 2, 8, 9, 10, 100
    assert not b.page["has_next"] and all(set(r["values"]) == {"metrics.loss"} for r in b.rows)
    b.order_by = ["params.max_iter DESC"]
    assert [r["run_name"] for r in b.rows] == ["run-3", "run-1"]  # 100, 10
    b.order_by = ["params.model ASC"]  # text values: MLflow's text order stands
    assert [r["run_name"] for r in b.rows] == ["run-1", "run-3"]  # m10, m100
    text = RunBrowser(uri, experiments=["p"], order_by=["params.max_iter ASC"], page_size=5, numeric_params=False)
    assert [r["run_name"] for r in text.rows] == ["run-1", "run-3", "run-4", "run-0", "run-2"]  # MLflow's order
    monkeypatch.setattr(runs_widget, "NUMERIC_SORT_MAX", 4)  # more runs match than the browser sorts itself
    many = RunBrowser(uri, experiments=["p"], order_by=["params.max_iter ASC"], page_size=5)
    assert [r["run_name"] for r in many.rows] == ["run-1", "run-3", "run-4", "run-0", "run-2"]
    # The browser says so, and how to get the numeric order; a sort it does itself says nothing of the kind.
    assert "Sorted by params.max_iter as text (MLflow's order): more than 4 runs match" in many.message
    assert "as text" not in b.message and "as text" not in text.message
    for browser in (b, text, many):
        browser.close()


def test_parallel_coordinates_have_the_params_that_differ_and_say_why_when_there_are_none(
    tmp_path: Path, mlflow_template: Path
) -> None:
    # Issue 19: parallel coordinates had no param axes, and the loss axis collapsed to 0.1695-0.1695.
    uri = _runs_with_params(
        tmp_path,
        mlflow_template,
        [
            {"lr": "0.1", "model": "tree", "seed": "1"},
            {"lr": "0.2", "model": "linear", "seed": "1"},
            {"lr": "0.3", "model": "tree", "seed": "1"},
        ],
        [0.5, 0.4, 0.4],
    )
    b = RunBrowser(uri, experiments=["p"])
    ids = [r["run_id"] for r in b.rows]
    b.compare(ids)
    parallel = b.compare_data["parallel"]
    assert parallel["axes"] == ["params.lr", "params.model", "metrics.loss"]  # seed is the same for all: no axis
    assert parallel["categories"] == {"params.model": ["linear", "tree"]}
    by_run = {r["run_id"]: r["values"] for r in parallel["runs"]}
    assert by_run[ids[0]] == [0.3, 1.0, 0.4] and parallel["note"] == ""  # newest first: run-2 (0.3, tree, 0.4)

    (tmp_path / "same").mkdir()
    same = _runs_with_params(tmp_path / "same", mlflow_template, [{"seed": "1"}] * 4, [0.1695] * 4)
    s = RunBrowser(same, experiments=["p"])
    s.compare([r["run_id"] for r in s.rows])
    assert s.compare_data["parallel"]["axes"] == []
    assert "the same params and the same metrics" in s.compare_data["parallel"]["note"]
    for browser in (b, s):
        browser.close()
