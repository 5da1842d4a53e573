"""Property tests: the run browser's direct SQL reading of an MLflow store gives, page after page, exactly what
``MlflowClient.search_runs`` gives on the same store.

Hypothesis makes the stores (runs in two experiments with params, metrics and tags drawn from small pools, so
values tie; NaN and infinite metrics; missing keys; equal start times; running, failed and deleted runs; child
runs) and the queries (MLflow filter strings with up to a dozen conditions, ``IN`` lists of run ids, ``OR``
alternatives, quick filters; up to three sort keys; page sizes of one to five). Each store is read through the
index walk, a walk cut short after one entry per row, and without the sort indexes.

The examples are fixed (``derandomize``) so the suite gives the same answer on every machine; for a deeper
search set ``SCANFLOW_PROPERTY_EXAMPLES`` (e.g. 2000) and ``SCANFLOW_PROPERTY_RANDOM=1``.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanflow_jupyter.errors import RunQueryError
from scanflow_jupyter.tracking import RunQuery, RunStore, sqlquery
from scanflow_jupyter.tracking.store import sqlite_uri

EXAMPLES = int(os.environ.get("SCANFLOW_PROPERTY_EXAMPLES", "25"))
RANDOM = os.environ.get("SCANFLOW_PROPERTY_RANDOM", "") == "1"
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the repository
    derandomize=not RANDOM,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

METRIC_KEYS = ["a", "b.c"]
PARAM_KEYS = ["p", "q r"]
TAG_KEYS = ["t", "scanflow.workflow"]
NAN, INF = float("nan"), float("inf")
METRIC_VALUES = [0.0, 0.5, 1.0, -1.0, 2.5, NAN, INF, -INF]
FILTER_NUMBERS = ["0", "0.5", "1", "-1", "2.5", "0.25", "-0.5", "1e6"]
STRINGS = ["", "0", "1", "10", "2", "a", "A", "ab", "aB", "b_a", "a%b", "x y"]
PATTERNS = [*STRINGS[1:], "a%", "%b", "_", "%", "A%", "%a%", "_b%", "%\\_%"]
NAMES = ["r1", "r2", "R1", "run-x", "run_y"]
NAME_PATTERNS = [*NAMES, "r%", "R%", "%\\_%", "run%", "%-%"]
STATUSES = ["FINISHED", "FAILED", "RUNNING", "KILLED"]
BASE = 1_700_000_000_000
STARTS = [BASE + k * 1000 for k in range(4)]
USERS = ["ann", "bob"]
ORDER_COLUMNS = [
    "metrics.a",
    'metrics."b.c"',
    "params.p",
    'params."q r"',
    "tags.t",
    "attributes.start_time",
    "attributes.end_time",
    "attributes.run_name",
    "attributes.status",
    "attributes.run_id",
    "attributes.user_id",
]


# -- stores ---------------------------------------------------------------------------------------------------
run_specs = st.fixed_dictionaries(
    {
        "exp": st.sampled_from([0, 0, 1]),
        "name": st.sampled_from(NAMES),
        "start": st.sampled_from(STARTS),
        "end": st.sampled_from([None, 0, 1500, 60_000]),
        "status": st.sampled_from(STATUSES),
        "user": st.sampled_from(USERS),
        "metrics": st.dictionaries(st.sampled_from(METRIC_KEYS), st.sampled_from(METRIC_VALUES)),
        "params": st.dictionaries(st.sampled_from(PARAM_KEYS), st.sampled_from(STRINGS)),
        "tags": st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(STRINGS)),
        "parent": st.one_of(st.none(), st.integers(0, 15)),
        "deleted": st.sampled_from([False] * 7 + [True]),
    }
)
stores = st.lists(run_specs, max_size=14)


@dataclass
class Store:
    uri: str
    experiments: list[str]
    run_ids: list[str] = field(default_factory=list)


_counter = itertools.count()


def build(base: Path, template: Path, specs: list[dict[str, Any]]) -> Store:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    folder = base / f"s{next(_counter)}"
    folder.mkdir()
    shutil.copy(template, folder / "mlflow.db")
    uri = sqlite_uri(folder / "mlflow.db")
    client = MlflowClient(uri)
    exps = [client.create_experiment(f"e{i}", artifact_location=(folder / f"art{i}").as_uri()) for i in range(2)]
    store = Store(uri, exps)
    for spec in specs:
        tags = dict(spec["tags"])
        if spec["parent"] is not None and spec["parent"] < len(store.run_ids):
            tags["mlflow.parentRunId"] = store.run_ids[spec["parent"]]
        run = client.create_run(
            exps[spec["exp"]], start_time=spec["start"], run_name=spec["name"], tags={"mlflow.user": spec["user"]}
        )
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, BASE, 0) for k, v in spec["metrics"].items()],
            params=[Param(k, v) for k, v in spec["params"].items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if spec["status"] != "RUNNING" or spec["end"] is not None:
            end = None if spec["end"] is None else spec["start"] + spec["end"]
            client.set_terminated(run_id, spec["status"], end_time=end)
        if spec["deleted"]:
            client.delete_run(run_id)
        store.run_ids.append(run_id)
    return store


# -- filters --------------------------------------------------------------------------------------------------
def key_name(prefix: str, key: str) -> str:
    return f'{prefix}."{key}"' if not key.isidentifier() else f"{prefix}.{key}"


def text(value: str) -> str:
    return f"'{value}'"


@dataclass(frozen=True)
class Clause:
    """A condition; an IN list names runs of the store by position (``picks``; 25 and up: no run), or every
    run (``every``), so it is drawn before the store exists and shows readably in a failing example."""

    text: str
    picks: tuple[int, ...] = ()
    every: bool = False

    def render(self, run_ids: list[str]) -> str:
        if not self.picks and not self.every:
            return self.text
        named = (
            run_ids
            if self.every
            else [run_ids[i % len(run_ids)] if i < 25 and run_ids else f"nope{i}" for i in self.picks]
        )
        return f"{self.text} ({', '.join(text(r) for r in named) or text('nope')})"


@dataclass(frozen=True)
class Filter:
    """An OR of ANDs of :class:`Clause`."""

    sides: tuple[tuple[Clause, ...], ...]

    def render(self, run_ids: list[str]) -> str:
        return " OR ".join(" AND ".join(c.render(run_ids) for c in side) for side in self.sides)


@st.composite
def clauses(draw: st.DrawFn) -> Clause:
    kind = draw(st.sampled_from(["metric", "param", "tag", "status", "name", "time", "user", "ids", "ids"]))
    if kind == "metric":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        column = key_name("metrics", draw(st.sampled_from(METRIC_KEYS)))
        return Clause(f"{column} {op} {draw(st.sampled_from(FILTER_NUMBERS))}")
    if kind in ("param", "tag"):
        prefix, keys = ("params", PARAM_KEYS) if kind == "param" else ("tags", TAG_KEYS)
        op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"]))
        column = key_name(prefix, draw(st.sampled_from(keys)))
        if op.startswith("IS"):
            return Clause(f"{column} {op}")
        pool = PATTERNS if "LIKE" in op else STRINGS
        return Clause(f"{column} {op} {text(draw(st.sampled_from(pool)))}")
    if kind == "status":
        op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE"]))
        value = draw(st.sampled_from([*STATUSES, "fin%", "%ED"])) if "LIKE" in op else draw(st.sampled_from(STATUSES))
        return Clause(f"attributes.status {op} {text(value)}")
    if kind == "name":
        op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE"]))
        return Clause(f"attributes.run_name {op} {text(draw(st.sampled_from(NAME_PATTERNS)))}")
    if kind == "time":
        column = draw(st.sampled_from(["attributes.start_time", "attributes.end_time", "attributes.created"]))
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return Clause(f"{column} {op} {draw(st.sampled_from([*STARTS, BASE + 2500]))}")
    if kind == "user":
        return Clause(f"attributes.user_id {draw(st.sampled_from(['=', '!=']))} {text(draw(st.sampled_from(USERS)))}")
    op = draw(st.sampled_from(["IN", "NOT IN"]))
    return Clause(f"attributes.run_id {op}", picks=tuple(draw(st.lists(st.integers(0, 30), min_size=1, max_size=4))))


# Conditions every run of a store meets: a long AND of random conditions matches no run, so the long sides are
# these, with at most two selective ones among them (11 conditions with an IN list second lost a run).
LOOSE = [
    Clause("attributes.run_name LIKE '%'"),
    Clause(f"attributes.start_time >= {BASE}"),
    Clause("attributes.status != 'SCHEDULED'"),
    Clause("attributes.user_id != 'nobody'"),
    Clause("attributes.run_id NOT IN ('nope1', 'nope2')"),
    Clause("attributes.run_name != 'none'"),
    Clause(f"attributes.created < {BASE + 10**9}"),
]
EVERY_RUN = Clause("attributes.run_id IN", every=True)  # what a selection of runs in the browser becomes
loose_clauses = st.one_of(st.sampled_from(LOOSE), st.just(EVERY_RUN))


@st.composite
def filters(draw: st.DrawFn) -> Filter:
    """An OR of one to three ANDs; a side has up to four conditions, or nine to fourteen."""
    count = draw(st.integers(1, 3))
    sides: list[tuple[Clause, ...]] = []
    for _ in range(count):
        if draw(st.booleans()):
            sides.append(tuple(draw(st.lists(clauses(), min_size=0 if count == 1 else 1, max_size=4))))
        else:  # many conditions, at most two of them selective
            side = draw(st.lists(loose_clauses, min_size=9, max_size=12))
            for clause in draw(st.lists(clauses(), max_size=2)):
                side.insert(draw(st.integers(0, len(side))), clause)
            sides.append(tuple(side))
    return Filter(tuple(sides))


queries = st.fixed_dictionaries(
    {
        "filter": filters(),
        "order": st.lists(
            st.tuples(st.sampled_from(ORDER_COLUMNS), st.sampled_from(["", " ASC", " DESC"])),
            max_size=3,
            unique_by=lambda o: o[0],
        ),
        "experiments": st.sampled_from([(0,), (1,), (0, 1)]),
        "status": st.sampled_from(["", "", "", "FINISHED", "running"]),
        "top_level": st.sampled_from([False, False, True]),
        "workflow": st.sampled_from(["", "", "", "a"]),
        "since": st.sampled_from([None, None, (BASE + 1000) / 1000]),
        "page_size": st.integers(1, 5),
        "plan": st.sampled_from(["walk", "short-walk", "no-index"]),
    }
)


# -- the reference ----------------------------------------------------------------------------------------------
def mlflow_answer(store: Store, query: RunQuery) -> list[str] | None:
    """MLflow's rows: one search per side of OR (the union), in the order of one search of everything with the
    sort (MLflow's order is total, so it does not depend on the filter). None: MLflow refuses the filter."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store.uri)
    exps = list(query.experiment_ids)
    union: set[str] = set()
    try:
        for side in query.side_strings():
            union |= {r.info.run_id for r in client.search_runs(exps, side, max_results=1000)}
    except MlflowException:
        return None
    everything = client.search_runs(exps, "", max_results=1000, order_by=list(query.order_by))
    return [r.info.run_id for r in everything if r.info.run_id in union]


def our_pages(reader: RunStore, query: RunQuery) -> Iterator[list[str]]:
    token = None
    while True:
        page = reader.search(query, token)
        yield [r["run_id"] for r in page.rows]
        token = page.next_page_token
        if token is None:
            return


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("property-stores")


# A failure shrinks for up to 5 minutes (each step builds a store) to a small example; a deeper search has no limit.
@pytest.mark.timeout(0 if "SCANFLOW_PROPERTY_EXAMPLES" in os.environ else 900)
@SETTINGS
@given(specs=stores, cases=st.lists(queries, min_size=1, max_size=3))
def test_sql_pages_are_mlflows_pages(
    base: Path, mlflow_template: Path, specs: list[dict[str, Any]], cases: list[dict[str, Any]]
) -> None:
    store = build(base, mlflow_template, specs)
    reader = RunStore(store.uri)
    assert reader.backend == "sql"
    try:
        for case in cases:
            query = RunQuery(
                experiment_ids=tuple(store.experiments[i] for i in case["experiments"]),
                filter=case["filter"].render(store.run_ids),
                order_by=tuple(column + direction for column, direction in case["order"]),
                status=case["status"],
                top_level=case["top_level"],
                workflow=case["workflow"],
                since=case["since"],
                page_size=case["page_size"],
            )
            want = mlflow_answer(store, query)
            assert reader._sql is not None
            reader._sql.sort_index = case["plan"] != "no-index"
            walk = 1 if case["plan"] == "short-walk" else sqlquery.WALK_ROWS
            with mock.patch.object(sqlquery, "WALK_ROWS", walk):
                if want is None:
                    with pytest.raises(RunQueryError):
                        list(our_pages(reader, query))
                    continue
                pages = list(our_pages(reader, query))
                size = query.page_size
                expected_pages = [want[i : i + size] for i in range(0, len(want), size)] or [[]]
                assert pages == expected_pages, f"{case['plan']}: {query}"
                assert reader.count(query) == len(want)
    finally:
        reader.close()
