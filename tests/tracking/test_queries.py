"""The run browser's queries on real stores: a SQLite file (read directly and through MlflowClient) and a
live ``mlflow server`` started on loopback."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanflow_jupyter.errors import RunQueryError, TrackingError
from scanflow_jupyter.tracking import RunQuery, RunStore, sqlquery
from scanflow_jupyter.tracking.filters import Column, split_or

from .runstores import (
    HTML_ARTIFACT,
    HTML_PARAM,
    HTML_VALUE,
    WIDE_METRICS,
    MlflowServer,
    Populated,
    free_port,
    ids,
    populate,
)

QUERIES = [
    ("", ()),
    ("metrics.acc > 0.7", ("metrics.loss DESC",)),
    ("metrics.acc > 0.7", ("metrics.loss ASC",)),
    ("params.p0 = '1' OR params.p0 = '2'", ("metrics.acc DESC",)),
    ("metrics.acc >= 0.9 OR attributes.status = 'FAILED'", ("params.p0 ASC", "metrics.acc DESC")),
    ("params.model LIKE 'a%' AND tags.team = 'ml'", ("attributes.start_time ASC",)),
    ("attributes.run_name ILIKE 'RUN-1%'", ("attributes.run_name DESC",)),
    ("tags.team != 'ops' OR metrics.loss < 0.5", ()),
]


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Populated:
    folder = tmp_path_factory.mktemp("runstore")
    db = folder / "mlflow.db"
    shutil.copy(mlflow_template, db)
    return populate(f"sqlite:///{db}", folder)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    folder = tmp_path_factory.mktemp("mlflow-server")
    srv = MlflowServer(folder).start()
    try:
        yield populate(srv.uri, folder)
    finally:
        srv.stop()


def every_page(store: RunStore, query: RunQuery) -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = store.search(query, token)
        assert len(page.rows) <= query.page_size
        out += ids(page.rows)
        token = page.next_page_token
        if token is None:
            return out


def expected(uri: str, experiment: str, side_filters: list[str], order: tuple[str, ...]) -> list[str]:
    """What MLflow itself returns: one search per side of OR, merged by MLflow's order (re-sorted by a
    single search over the union's ids, so the reference does not reuse our merge)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    union: set[str] = set()
    for side in side_filters:
        union |= {r.info.run_id for r in client.search_runs([experiment], side, max_results=1000)}
    everything = client.search_runs([experiment], "", max_results=1000, order_by=list(order))
    return [r.info.run_id for r in everything if r.info.run_id in union]


# -- the filter language ---------------------------------------------------------------------------------
def test_split_or_keeps_quoted_or() -> None:
    assert split_or("metrics.a > 1 or params.m = 'x OR y'") == ["metrics.a > 1", "params.m = 'x OR y'"]
    assert split_or("") == []
    assert split_or("attributes.run_id IN ('a', 'b) OR (c') or metrics.a > 1") == [
        "attributes.run_id IN ('a', 'b) OR (c')",
        "metrics.a > 1",
    ]
    assert split_or("attributes.run_id not in('a')") == ["attributes.run_id not in('a')"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.acc >", r"Invalid filter 'metrics.acc >'.*metrics.acc > 0.9 AND"),
        ("nonsense = 1", r"Invalid filter 'nonsense = 1'"),
        ("metrics.acc > 1 OR", r"OR needs a condition on each side"),
        ("(metrics.acc > 1)", r"parentheses are not supported"),
        ("attributes.run_id IN ('a', 'b'", r"the IN list at .* is not closed"),
        ("params.m = 'open", r"quote is not closed"),
    ],
)
def test_a_bad_filter_is_named(sqlite_store: Populated, text: str, message: str) -> None:
    store = RunStore(sqlite_store.uri)
    with pytest.raises(RunQueryError, match=message):
        store.search(RunQuery(experiment_ids=(sqlite_store.experiment,), filter=text))


@pytest.mark.parametrize(
    ("columns", "order", "message"),
    [
        (("metric.acc", "foo.bar"), (), r"Unknown column 'foo.bar': name a column as metrics.KEY"),
        (("attributes.colour",), (), r"Unknown attribute column 'attributes.colour'"),
        (("metrics.acu",), (), r"Unknown column 'metrics.acu': no run in this store has a metric 'acu'.*'metrics.acc'"),
        ((), ("params.p9 DESC",), r"Unknown column 'params.p9'"),
        ((), ("attributes.duration",), r"Cannot sort by 'duration'"),
        ((), ("metrics.acc", "metrics.acc DESC"), r"Sort by each column once"),
    ],
)
def test_an_unknown_column_is_named(
    sqlite_store: Populated, columns: tuple[str, ...], order: tuple[str, ...], message: str
) -> None:
    store = RunStore(sqlite_store.uri)
    with pytest.raises(RunQueryError, match=message):
        store.check_columns(RunQuery(experiment_ids=(sqlite_store.experiment,), columns=columns, order_by=order))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page_size": 0}, r"Page size 0 is out of range: choose 1 to 1000"),
        ({"status": "DONE"}, r"Unknown status 'DONE': choose one of RUNNING"),
        ({"since": 10.0, "until": 5.0}, r"The date range is empty"),
    ],
)
def test_bad_quick_filters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RunQueryError, match=message):
        RunQuery(**kwargs)  # type: ignore[arg-type]


def test_column_names_round_trip() -> None:
    assert Column.parse('tags."scanflow.workflow"') == Column("tag", "scanflow.workflow")
    assert Column.parse('tags."scanflow.workflow"').name == 'tags."scanflow.workflow"'
    assert Column.parse("start_time") == Column("attribute", "start_time")


# -- pages on SQLite ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reader", ["sql", "sql-short-walk", "mlflowclient"])
@pytest.mark.parametrize(("text", "order"), QUERIES)
def test_pages_match_mlflow_search(
    sqlite_store: Populated, reader: str, text: str, order: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sql-short-walk``: metric-sorted pages walk the sort index one entry per row, then read filter-first."""
    direct = reader != "mlflowclient"
    store = RunStore(sqlite_store.uri, direct=direct)
    assert store.backend == ("sql" if direct else "mlflow")
    if reader == "sql-short-walk":
        monkeypatch.setattr(sqlquery, "WALK_ROWS", 1)
    query = RunQuery(experiment_ids=(sqlite_store.experiment,), filter=text, order_by=order, page_size=5)
    got = every_page(store, query)
    assert len(got) == len(set(got))  # a run matching both sides of OR comes once
    assert got == expected(sqlite_store.uri, sqlite_store.experiment, query.side_strings(), order)


@pytest.mark.parametrize("reader", ["sql", "mlflowclient"])
def test_many_clauses_and_an_in_list_keep_every_run(sqlite_store: Populated, reader: str) -> None:
    """Eleven conditions, the second an IN list: the SQL binds of condition 1's list (``v1...``) and of condition
    10 must not share a name (they did: ``v10`` was both, and run A dropped out)."""
    a, b = sqlite_store.runs[3], sqlite_store.runs[8]
    clauses = [
        "metrics.acc > 0",
        f"attributes.run_id IN ('{a}', '{b}')",
        *[f"params.p0 != 'none{i}'" for i in range(8)],
        "tags.team != 'nobody'",
    ]
    assert len(clauses) == 11
    store = RunStore(sqlite_store.uri, direct=reader == "sql")
    query = RunQuery(experiment_ids=(sqlite_store.experiment,), filter=" AND ".join(clauses), page_size=10)
    got = every_page(store, query)
    assert sorted(got) == sorted([a, b])
    assert got == expected(sqlite_store.uri, sqlite_store.experiment, query.side_strings(), ())
    if reader == "sql":
        assert store.count(query) == 2


def test_a_page_holds_only_the_columns_asked(sqlite_store: Populated) -> None:
    store = RunStore(sqlite_store.uri)
    query = RunQuery(
        experiment_ids=(sqlite_store.experiment,),
        filter="attributes.run_name LIKE 'run-%'",
        order_by=("metrics.acc DESC",),
        columns=("metrics.loss", "params.model", "attributes.duration"),
        page_size=3,
    )
    page = store.search(query)
    assert [r["run_name"] for r in page.rows] == ["run-23", "run-22", "run-21"]
    assert page.rows[0]["values"] == {"params.model": "b", "attributes.duration": 1.5}  # run-23 has no loss
    assert page.rows[1]["values"]["metrics.loss"] == pytest.approx(1 - 22 / 30, abs=1e-3)
    assert store.count(query) == 24
    with pytest.raises(RunQueryError, match="page token belongs to another query"):
        store.search(RunQuery(experiment_ids=(sqlite_store.experiment,)), page.next_page_token)


def test_quick_filters_and_tree(sqlite_store: Populated) -> None:
    store = RunStore(sqlite_store.uri)
    exp = (sqlite_store.experiment,)
    failed = store.search(RunQuery(experiment_ids=exp, status="failed", page_size=100)).rows
    assert sorted(r["run_name"] for r in failed) == ["run-00", "run-05", "run-10", "run-15", "run-20"]
    since = 1_700_000_000 + 20 * 60
    recent = store.search(RunQuery(experiment_ids=exp, since=since, until=since + 3 * 60 + 1, page_size=100)).rows
    assert sorted(r["run_name"] for r in recent) == ["run-20", "run-21", "run-22", "run-23"]
    top = store.search(RunQuery(experiment_ids=exp, top_level=True, page_size=100)).rows
    assert sqlite_store.parent in ids(top) and not set(sqlite_store.children) & set(ids(top))
    assert next(r for r in top if r["run_id"] == sqlite_store.parent)["children"] == 2
    assert ids(store.children(sqlite_store.parent)) == sqlite_store.children


def test_an_experiment_with_no_runs(sqlite_store: Populated) -> None:
    store = RunStore(sqlite_store.uri)
    query = RunQuery(experiment_ids=(sqlite_store.empty,), filter="metrics.acc > 0", order_by=("metrics.acc",))
    page = store.search(query)
    assert page.rows == [] and page.next_page_token is None
    assert store.count(query) == 0
    assert {e["name"]: e["runs"] for e in store.experiments()}["nothing-here"] == 0


def test_thousands_of_metric_keys(sqlite_store: Populated) -> None:
    store = RunStore(sqlite_store.uri)
    keys = store.keys([sqlite_store.experiment], limit=200)
    assert len(keys["metrics"]) == 200 and keys["truncated"]
    assert store.keys([sqlite_store.experiment], search="m299")["metrics"] == [
        "m2990",
        *[f"m299{k}" for k in range(1, 10)],
    ]
    detail = store.run_detail(sqlite_store.wide, metric_limit=1000)
    assert detail["metrics_total"] == WIDE_METRICS + 1 and len(detail["metrics"]) == 1000
    assert store.search_metrics(sqlite_store.wide, "m2999") == {"m2999": 2999.0}
    history = store.metric_history(sqlite_store.wide, "curve", max_points=100)
    assert history["total"] == 1000 and history["downsampled"] and len(history["steps"]) <= 100
    assert max(history["values"]) == pytest.approx(96 / 97)  # the peaks survive downsampling
    assert len(store.metric_history(sqlite_store.wide, "curve", max_points=None)["steps"]) == 1000


def test_html_names_are_data_and_artifacts_preview(sqlite_store: Populated) -> None:
    store = RunStore(sqlite_store.uri)
    detail = store.run_detail(sqlite_store.html)
    assert detail["params"] == {HTML_PARAM: HTML_VALUE} and detail["run_name"] == "<i>html</i>"
    assert {a["path"] for a in detail["artifacts"]} == {"notes.txt", "table.csv", "plot.png", HTML_ARTIFACT}
    text = store.preview(sqlite_store.html, "notes.txt")
    assert text["kind"] == "text" and "<script>alert(4)</script>" in text["text"]
    table = store.preview(sqlite_store.html, "table.csv")
    assert table["kind"] == "csv" and table["rows"] == [["name", "score"], ["<b>x</b>", "1"], ["y", "2"]]
    image = store.preview(sqlite_store.html, "plot.png")
    assert image["kind"] == "image" and image["data_url"].startswith("data:image/png;base64,iVBORw0KGgo")
    html = store.preview(sqlite_store.html, HTML_ARTIFACT)
    assert html["kind"] == "text" and html["text"] == "<h1>not rendered</h1>"
    with pytest.raises(RunQueryError, match=r"Artifact path '../secret' is not inside the run"):
        store.preview(sqlite_store.html, "../secret")
    frame = store.frame([sqlite_store.html, sqlite_store.runs[0]])
    assert list(frame["run_id"]) == [sqlite_store.html, sqlite_store.runs[0]]
    assert frame.loc[0, f"params.{HTML_PARAM}"] == HTML_VALUE


def test_a_missing_sqlite_store(tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match=r"There is no MLflow store at .*nope.db.* yet"):
        RunStore(f"sqlite:///{tmp_path / 'nope.db'}")


def test_the_sql_reader_cannot_write(sqlite_store: Populated) -> None:
    import sqlalchemy

    store = RunStore(sqlite_store.uri)
    assert store._sql is not None
    with pytest.raises(sqlalchemy.exc.OperationalError, match="readonly"), store._sql.engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM runs"))


def test_sort_indexes_are_added_once_and_only_when_the_store_can_take_them(
    tmp_path: Path, mlflow_template: Path
) -> None:
    """``sort_index=False`` leaves the store as MLflow made it; a store held by a writer gets no index and gives
    the same pages (unindexed); the next open adds the indexes."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template, db)
    uri = f"sqlite:///{db}"
    client = MlflowClient(uri)
    exp = client.create_experiment("indexes", artifact_location=(tmp_path / "art").as_uri())
    for i in range(12):
        run = client.create_run(exp, run_name=f"r{i}", start_time=1_700_000_000_000 + (i // 2) * 1000)
        client.log_batch(run.info.run_id, metrics=[Metric("m", i % 5, 0, 0)], params=[Param("p", str(i % 3))])

    def ours() -> set[str]:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'scanflow%'")
            return {name for (name,) in rows}

    queries = [
        RunQuery(experiment_ids=(exp,), filter="metrics.m > 0", order_by=order, page_size=4)
        for order in [(), ("metrics.m DESC",), ("params.p ASC", "metrics.m DESC")]
    ]
    untouched = RunStore(uri, sort_index=False)
    assert untouched._sql is not None and not untouched._sql.sort_index and ours() == set()
    pages = [every_page(untouched, q) for q in queries]
    writer = sqlite3.connect(db)
    writer.execute("BEGIN EXCLUSIVE")  # a writer holding the store longer than the 2 s the browser waits
    try:
        held = RunStore(uri)
        assert held._sql is not None and not held._sql.sort_index and ours() == set()
        assert [every_page(held, q) for q in queries] == pages
    finally:
        writer.rollback()
        writer.close()
    indexed = RunStore(uri)
    assert indexed._sql is not None and indexed._sql.sort_index and ours() == set(sqlquery.SORT_INDEXES)
    assert [every_page(indexed, q) for q in queries] == pages
    assert pages == [expected(uri, exp, q.side_strings(), q.order_by) for q in queries]


# -- a live MLflow tracking server --------------------------------------------------------------------------
def test_unreachable_server_is_named() -> None:
    port = free_port()
    with pytest.raises(
        TrackingError, match=rf"Cannot reach the MLflow tracking server 'http://127.0.0.1:{port}'.*mlflow server"
    ):
        RunStore(f"http://127.0.0.1:{port}")


@pytest.mark.parametrize(("text", "order"), QUERIES[:5])
def test_server_pages_match_mlflow_search(server: Populated, text: str, order: tuple[str, ...]) -> None:
    store = RunStore(server.uri)
    assert store.backend == "mlflow"
    query = RunQuery(experiment_ids=(server.experiment,), filter=text, order_by=order, page_size=4)
    got = every_page(store, query)
    assert got == expected(server.uri, server.experiment, query.side_strings(), order)


def test_server_errors_columns_and_artifacts(server: Populated) -> None:
    store = RunStore(server.uri)
    exp = (server.experiment,)
    with pytest.raises(RunQueryError, match=r"Invalid filter 'metrics.acc >'"):
        store.search(RunQuery(experiment_ids=exp, filter="metrics.acc >"))
    with pytest.raises(RunQueryError, match=r"Unknown column 'metrics.acu'.*'metrics.acc'"):
        store.check_columns(RunQuery(experiment_ids=exp, columns=("metrics.acu",)))
    assert store.search(RunQuery(experiment_ids=(server.empty,))).rows == []
    assert ids(store.children(server.parent)) == server.children
    table = store.preview(server.html, "table.csv")
    assert table["rows"][1] == ["<b>x</b>", "1"]
    assert store.preview(server.html, "plot.png")["kind"] == "image"
    assert store.preview(server.html, HTML_ARTIFACT)["text"] == "<h1>not rendered</h1>"


# -- sorting through the sort indexes: NaN, ties, missing values, equal start times, pages across them ------
@pytest.fixture(scope="module")
def edge_store(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> tuple[str, str]:
    """Runs whose sort metric ``score`` ties, is NaN, infinite, negative or missing, with equal start times,
    and a filter metric ``gate`` that is NaN for some."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("edges")
    shutil.copy(mlflow_template, folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("edges", artifact_location=(folder / "art").as_uri())
    nan, inf = float("nan"), float("inf")
    scores = [0.5, 0.5, 0.5, nan, nan, None, None, None, -1.0, inf, -inf, 2.0, 0.0, 0.5, 0.25, 1.0]
    gates = [1.0, nan, 0.0, 1.0, nan, 1.0, 0.0, nan, 1.0, 1.0, 0.0, nan, 1.0, 1.0, -1.0, 1.0]
    for i, (score, gate) in enumerate(zip(scores, gates, strict=True)):
        run = client.create_run(exp, run_name=f"e{i:02d}", start_time=1_700_000_000_000 + (i // 3) * 1000)
        metrics = [Metric("gate", gate, 0, 0)] + ([Metric("score", score, 0, 0)] if score is not None else [])
        params = [Param("p", str(i % 2))] + ([Param("q", f"v{i % 5}")] if i % 2 else [])
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
    return uri, exp


@pytest.mark.parametrize("plan", ["walk", "short-walk", "no-index"])
@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("", ("metrics.score DESC",)),
        ("", ("metrics.score ASC",)),
        ("metrics.gate > 0", ("metrics.score DESC", "params.p ASC")),
        ("metrics.gate != 1", ("metrics.score ASC",)),
        ("metrics.score != 0.5 OR params.p = '1'", ("metrics.score DESC", "attributes.start_time ASC")),
        ("metrics.gate >= 0", ("metrics.gate DESC", "metrics.score DESC")),
        ("", ()),  # newest first: the start-time index
        ("metrics.gate > 0", ("attributes.start_time DESC",)),
        ("metrics.score != 0.5", ("attributes.start_time ASC", "metrics.score DESC")),
        ("metrics.gate != 1", ("params.p DESC", "metrics.score ASC")),  # the param index
        ("params.p = '1' OR metrics.score < 0.5", ("params.q ASC",)),  # q is missing from half the runs
    ],
)
def test_sorted_pages_match_mlflow_across_nan_ties_and_missing(
    edge_store: tuple[str, str], plan: str, text: str, order: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``walk``: the index walk fills every page; ``short-walk``: it stops after one entry per row wanted, so
    pages are finished filter-first (what a selective filter does on a big store); ``no-index``: the plan of
    a store without the sort index."""
    uri, exp = edge_store
    store = RunStore(uri)
    assert store._sql is not None and store._sql.sort_index  # created once, on the first open
    store._sql.sort_index = plan != "no-index"
    if plan == "short-walk":
        monkeypatch.setattr(sqlquery, "WALK_ROWS", 1)
    for size in (1, 3, 100):
        query = RunQuery(experiment_ids=(exp,), filter=text, order_by=order, page_size=size)
        got = every_page(store, query)
        assert got == expected(uri, exp, query.side_strings(), order), size
        assert store.count(query) == len(got)
