"""Run search straight on MLflow's SQL store (read-only), for pages that stay fast at 100,000 runs.

Why: ``MlflowClient.search_runs`` with a metric sort is quadratic on SQLite: it left-joins a subquery of every
run's value of the sort metric, which SQLite materializes without an index and scans once per matching run
(2-6 s at 10,000 runs and 250-500 s at 100,000 here, MLflow 3.17; ``benchmarks/README.md``); and it pages
with OFFSET, so every page repeats the sort.

How it stays correct:

- It reads MLflow's own tables (``runs``, ``latest_metrics``, ``params``, ``tags``, ``experiments``), the ones
  MLflow's ``SqlAlchemyStore`` searches; there is no second copy, so nothing can fall out of step. MLflow
  writes a run's values in transactions, so a page sees each write whole or not at all.
- Filters are parsed by MLflow's ``SearchUtils`` (:func:`.filters.parse_side`) and sorting mirrors MLflow's
  ``_get_orderby_clauses``: NaN, then missing values last, then ``start_time DESC``, ``run_uuid``; a test
  compares pages with ``MlflowClient.search_runs`` for a set of filters and sorts.
- The connection is read-only (SQLite ``mode=ro``; a read-only transaction elsewhere): it cannot change the
  store. Before use it checks that the tables and columns it reads exist; if MLflow changes its schema,
  :class:`.queries.RunStore` falls back to ``MlflowClient``. A condition it does not translate (dataset
  filters) also sends that query to MlflowClient.
- Paging is by key (the last row's sort values travel in the page token), not by OFFSET, so the next page
  costs what the first did, and a run added meanwhile does not shift the pages.

The sort indexes. MLflow's tables have no index that gives runs in a metric's, a param's or start time's order,
so a sorted page means reading and sorting every matching run (0.1-0.5 s at 100,000 runs here, growing with the
store). On a SQLite store :class:`SqlRuns` therefore adds three indexes (:data:`SORT_INDEXES`):
``latest_metrics (key, is_nan, value)``, ``params (key, value)`` and ``runs (start_time)``, and reads a page
sorted by a metric, a param or start time (the default order) by walking one (``SqlRuns._walk``), checking each
run against the filter, until the page is full: a page then costs about the same at 10,000 and 100,000 runs.
The walk is bounded (20 index entries per row wanted); a filter so selective that the bound is reached is
answered filter-first instead (the matching runs, few by then, sorted), beyond the entries walked. The first
two indexes serve filters too (a range of one is the set of runs with ``metrics.m > x`` or ``params.p = 'v'``).
Why adding them is safe:

- They are created once each, ``CREATE INDEX IF NOT EXISTS``, through a separate short-lived write connection
  when the store is opened and one is missing (about 0.7 s for the largest at 100,000 runs, one transaction
  per index); the connection that answers queries stays read-only. If the file cannot be written (read-only,
  or a writer holds it longer than 2 s), nothing is created and sorted pages take the unindexed plan: the same
  rows, only slower.
- An index is not a copy that can fall behind: SQLite updates it in the same transaction as every write to
  its table, whoever writes (MLflow, ``mlflow gc``, a tracking server on the same file). Writing costs no
  more that we could measure (create_run + log_batch + set_terminated: 42.3 ms a run with them, 41.5 ms
  without, medians of 6 rounds of 40 runs).
- MLflow does not mind extra indexes: its schema check compares the Alembic revision only, and no MLflow
  index has these names. A migration that rebuilds a table (Alembic's batch mode on SQLite) either carries
  the index over or drops it with the old table; in the second case the next open creates it again.
  Pass ``index=False`` to leave a store exactly as MLflow made it. PostgreSQL and MySQL stores, usually
  shared and managed by someone else, are never changed.
- The tests compare every page with ``MlflowClient.search_runs`` through the walk, through a walk cut short
  after one entry per row (so the filter-first rest is read), and without the indexes.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import RunQueryError
from .filters import Column, SortKey
from .store import sqlite_file_uri, sqlite_path

REQUIRED = {
    "runs": {"run_uuid", "name", "status", "start_time", "end_time", "lifecycle_stage", "experiment_id", "user_id"},
    "latest_metrics": {"key", "value", "is_nan", "run_uuid", "step"},
    "params": {"key", "value", "run_uuid"},
    "tags": {"key", "value", "run_uuid"},
    "experiments": {"experiment_id", "name", "lifecycle_stage"},
}
_ATTR_SQL = {
    "run_name": "r.name",
    "status": "r.status",
    "start_time": "r.start_time",
    "end_time": "r.end_time",
    "user_id": "r.user_id",
    "run_id": "r.run_uuid",
    "artifact_uri": "r.artifact_uri",
}
_TABLE = {"metric": "latest_metrics", "param": "params", "tag": "tags"}
_PARENT = "mlflow.parentRunId"
SORT_INDEX = "scanflow_latest_metrics_sort"
START_INDEX = "scanflow_runs_start"
PARAM_INDEX = "scanflow_params_value"
SORT_INDEXES = {
    SORT_INDEX: "latest_metrics (key, is_nan, value)",  # runs in a metric's order
    START_INDEX: "runs (start_time)",  # runs newest first: the order of every view not sorted otherwise
    PARAM_INDEX: "params (key, value)",  # runs in a param's order, and param filters as ranges
}
WALK_ROWS = 20  # index entries a sorted page walks per row it wants, before reading filter-first ...
WALK_LIMIT = 5000  # ... and at most (a page of 1,000 child runs)
_RUN_COLUMNS = "r.run_uuid, r.experiment_id, r.name, r.status, r.start_time, r.end_time, r.user_id"
ROW_TAGS = ("mlflow.parentRunId", "scanflow.kind", "scanflow.workflow", "scanflow.node", "scanflow.state")


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _WalkPlan:
    """A walk of one of :data:`SORT_INDEXES` (see :meth:`SqlRuns._walk`): the tables it reads, the sorted
    ``column``, the conditions of the runs it covers (``part``), the values the sort keys before ``column``
    take for them (``lead``: the rank of a metric sort), and how many of the sort's joins it replaces."""

    source: str
    column: str
    part: list[str]
    lead: list[int]
    ascending: bool
    joins_used: int = 0


class Unsupported(Exception):
    """A condition this module does not translate; the caller asks MlflowClient instead."""


def readonly_engine(uri: str) -> Any:
    """A SQLAlchemy engine on ``uri`` for reading. A SQLite file is opened read-only (``mode=ro``) through a
    ``file:`` URI made by :func:`.store.sqlite_file_uri` (a URL string would be percent-decoded by SQLAlchemy
    first, and a ``#`` in the path would then cut it short)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    path = sqlite_path(uri)
    if path is None:
        return sqlalchemy.create_engine(uri, poolclass=NullPool)
    target = sqlite_file_uri(path, mode="ro")

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(target, uri=True, check_same_thread=False)

    return sqlalchemy.create_engine("sqlite://", creator=connect, poolclass=NullPool)


class SqlRuns:
    """Run queries on MLflow's SQL store ``uri`` (sqlite, postgresql, mysql)."""

    def __init__(self, uri: str, *, index: bool = True) -> None:
        import sqlalchemy

        self.uri = uri
        self.engine = readonly_engine(uri)
        self.dialect = self.engine.dialect.name
        with self._connect() as conn:
            inspector = sqlalchemy.inspect(conn)
            tables = set(inspector.get_table_names())
            for table, columns in REQUIRED.items():
                if table not in tables:
                    raise Unsupported(f"table {table} is missing")
                have = {c["name"] for c in inspector.get_columns(table)}
                if not columns <= have:
                    raise Unsupported(f"table {table} lacks {sorted(columns - have)}")
        self.sort_index = self._has_sort_index() or (index and self._create_sort_index())

    def _has_sort_index(self) -> bool:
        if self.dialect != "sqlite":
            return False
        names, params = self._in("n", list(SORT_INDEXES))
        rows = self._all(f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN ({names})", params)
        return int(rows[0][0]) == len(SORT_INDEXES)

    def _create_sort_index(self) -> bool:
        """Add :data:`SORT_INDEXES` to a SQLite store, through a separate short-lived write connection.

        Only SQLite (the embedded store of one application); a shared PostgreSQL or MySQL store is left as
        it is. If the file is read-only or a writer holds it for longer than 2 s, the store stays
        without the index: queries are the same, only slower."""
        path = sqlite_path(self.uri)
        if self.dialect != "sqlite" or path is None:
            return False
        try:
            conn = sqlite3.connect(path, timeout=2.0)
            try:
                for name, on in SORT_INDEXES.items():
                    with conn:  # one transaction each: a writer waiting on the store waits for one index only
                        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.info("no sort indexes on %s (%s): sorted pages read every matching run", path, exc)
            return False
        return self._has_sort_index()

    def _connect(self) -> Any:
        import sqlalchemy

        conn = self.engine.connect()
        if self.dialect in ("postgresql", "mysql"):
            conn.execute(sqlalchemy.text("SET TRANSACTION READ ONLY"))
        return conn

    def _all(self, sql: str, params: dict[str, Any]) -> list[Any]:
        import sqlalchemy

        with self._connect() as conn:
            return list(conn.execute(sqlalchemy.text(sql), params).fetchall())

    def close(self) -> None:
        self.engine.dispose()

    # -- metadata ---------------------------------------------------------------------------------
    def experiments(self) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT e.experiment_id, e.name, (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.experiment_id "
            "AND r.lifecycle_stage = 'active') FROM experiments e WHERE e.lifecycle_stage = 'active' "
            "ORDER BY e.experiment_id",
            {},
        )
        return [{"id": str(r[0]), "name": r[1], "runs": int(r[2])} for r in rows]

    def keys(self, experiment_ids: Sequence[str], search: str, limit: int) -> dict[str, Any]:
        """Distinct metric, param and tag keys of the experiments' runs (``search``: a substring)."""
        out: dict[str, Any] = {"truncated": False}
        exps, params = self._in("e", [int(e) for e in experiment_ids])
        params["s"] = f"%{search.lower()}%"
        for kind, table in _TABLE.items():
            used = (
                f"EXISTS (SELECT 1 FROM {table} t JOIN runs r ON r.run_uuid = t.run_uuid "
                f"WHERE t.key = k.key AND r.experiment_id IN ({exps}))"
            )
            # The distinct keys one index seek each (the table's primary key starts with the key), rather
            # than a DISTINCT over every row: seconds at 100,000 runs, and the browser asks at each open.
            distinct = (
                f"WITH RECURSIVE k(key) AS (SELECT MIN(key) FROM {table} UNION ALL "
                f"SELECT (SELECT MIN(key) FROM {table} WHERE key > k.key) FROM k WHERE k.key IS NOT NULL) "
                "SELECT k.key FROM k WHERE k.key IS NOT NULL"
                if self.dialect in ("sqlite", "postgresql")
                else f"SELECT DISTINCT key FROM {table} k WHERE 1 = 1"
            )
            rows = self._all(f"{distinct} AND LOWER(k.key) LIKE :s AND {used} ORDER BY k.key LIMIT {limit + 1}", params)
            keys = [r[0] for r in rows]
            out["truncated"] = out["truncated"] or len(keys) > limit
            out[f"{kind}s"] = keys[:limit]
        return out

    def has_key(self, column: Column) -> bool:
        table = _TABLE[column.kind]
        return bool(self._all(f"SELECT 1 FROM {table} WHERE key = :k LIMIT 1", {"k": column.key}))

    # -- search -----------------------------------------------------------------------------------
    @staticmethod
    def _in(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """Bind names for a value list: ``prefix_0, prefix_1``... The ``_`` keeps them apart from every other
        name of a query (``v1`` + ``0`` was ``v10``, the name of condition 10's value: run ids dropped out)."""
        names = {f"{prefix}_{i}": v for i, v in enumerate(values)}
        return ", ".join(f":{n}" for n in names) or "NULL", names

    def _clause(self, clause: dict[str, Any], n: int, params: dict[str, Any], correlated: bool = False) -> str:
        """One condition as SQL. A metric, param or tag condition is a set of run ids (``r.run_uuid IN
        (...)``, good when the runs are read in any order), or with ``correlated`` a probe of the run at hand
        (``EXISTS``, good when the runs are read in a sort index's order and the page stops early)."""
        kind, key, op, value = clause["type"], clause["key"], clause["comparator"].upper(), clause["value"]
        k, v = f"k{n}", f"v{n}"
        if kind == "attribute":
            key = {"run name": "run_name", "created": "start_time", "Created": "start_time"}.get(key, key)
            column = _ATTR_SQL.get(key)
            if column is None:
                raise Unsupported(f"attribute {key}")
            if op in ("IN", "NOT IN"):
                names, values = self._in(v, list(value))
                params.update(values)
                return f"{column} {op} ({names})"
            params[v] = value
            return self._compare(column, op, v)
        table = _TABLE.get({"parameter": "param"}.get(kind, kind))
        if table is None:
            raise Unsupported(f"{kind} filters")
        params[k] = key
        t = f"f{n}." if correlated else ""  # the probe's alias
        condition = f"{t}key = :{k}"
        if op not in ("IS NULL", "IS NOT NULL"):
            params[v] = float(value) if table == "latest_metrics" else value
            compare = self._compare(f"{t}value", op, v)
            if table != "latest_metrics":
                condition += f" AND {compare}"
            elif op == "!=":  # MLflow stores NaN as value 0 with is_nan set: NaN differs from everything
                condition += f" AND ({compare} OR {t}is_nan = TRUE)"
            else:  # ... and no other comparison holds for NaN
                condition += f" AND {t}is_nan = FALSE AND {compare}"
        negate = "NOT " if op == "IS NULL" else ""
        if correlated:
            return f"{negate}EXISTS (SELECT 1 FROM {table} f{n} WHERE f{n}.run_uuid = r.run_uuid AND {condition})"
        return f"r.run_uuid {negate}IN (SELECT run_uuid FROM {table} WHERE {condition})"

    def _compare(self, column: str, op: str, v: str) -> str:
        if op in ("=", "!=", "<", "<=", ">", ">="):
            return f"{column} {op} :{v}"
        if op == "ILIKE":
            return f"LOWER({column}) LIKE LOWER(:{v})"
        if op == "LIKE":
            # SQLite's LIKE ignores case; MLflow's LIKE does not: add a case-sensitive GLOB with the same pattern.
            if self.dialect == "sqlite":
                return f"({column} LIKE :{v} AND {column} GLOB sf_like_to_glob(:{v}))"
            return f"{column} LIKE :{v}"
        raise Unsupported(f"comparator {op}")

    def _order(self, order: Sequence[SortKey], params: dict[str, Any]) -> tuple[list[str], list[tuple[str, bool]]]:
        """Joins, and (expression, descending) pairs mirroring MLflow's ordering."""
        joins: list[str] = []
        keys: list[tuple[str, bool]] = []
        seen_start = False
        for i, sort in enumerate(order):
            column = sort.column
            if column.kind == "attribute":
                expr = _ATTR_SQL[column.key]
                seen_start = seen_start or column.key == "start_time"
                keys.append((f"(CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END)", False))
                blank = "0" if column.key.endswith("_time") else "''"
                keys.append((f"COALESCE({expr}, {blank})", not sort.ascending))
                continue
            alias = f"o{i}"
            params[f"ok{i}"] = column.key
            joins.append(
                f"LEFT JOIN {_TABLE[column.kind]} {alias} ON {alias}.run_uuid = r.run_uuid AND {alias}.key = :ok{i}"
            )
            if column.kind == "metric":
                rank = f"(CASE WHEN {alias}.is_nan = 1 THEN 1 WHEN {alias}.value IS NULL THEN 2 ELSE 0 END)"
                keys.append((rank, False))
                keys.append((f"COALESCE({alias}.value, 0)", not sort.ascending))
            else:
                keys.append((f"(CASE WHEN {alias}.value IS NULL THEN 1 ELSE 0 END)", False))
                keys.append((f"COALESCE({alias}.value, '')", not sort.ascending))
        if not seen_start:
            keys.append(("COALESCE(r.start_time, 0)", True))
        keys.append(("r.run_uuid", False))
        return joins, keys

    def _where(
        self,
        experiment_ids: Sequence[str],
        sides: Sequence[Sequence[dict[str, Any]]],
        params: dict[str, Any],
        correlated: bool = False,
    ) -> list[str]:
        exps, exp_params = self._in("e", [int(e) for e in experiment_ids])
        params.update(exp_params)
        where = [f"r.experiment_id IN ({exps})", "r.lifecycle_stage = 'active'"]
        n = 0
        ors = []
        for side in sides:
            ands = []
            for clause in side:
                ands.append(self._clause(clause, n, params, correlated))
                n += 1
            ors.append("(" + (" AND ".join(ands) or "1 = 1") + ")")
        if ors:
            where.append("(" + " OR ".join(ors) + ")")
        return where

    @staticmethod
    def _after(keys: Sequence[tuple[str, bool]], after: Sequence[Any], params: dict[str, Any], first: int) -> str:
        """Rows after the key values ``after`` in the order ``keys`` (parameters ``:a<first>``...)."""
        names = [f"a{first + i}" for i in range(len(keys))]
        params.update(dict(zip(names, after, strict=True)))
        alternatives = []
        for i, (expr, desc) in enumerate(keys):
            parts = [f"{keys[j][0]} = :{names[j]}" for j in range(i)]
            parts.append(f"{expr} {'<' if desc else '>'} :{names[i]}")
            alternatives.append("(" + " AND ".join(parts) + ")")
        return "(" + " OR ".join(alternatives) + ")"

    def search(
        self,
        experiment_ids: Sequence[str],
        sides: Sequence[Sequence[dict[str, Any]]],
        order: Sequence[SortKey],
        page_size: int,
        after: list[Any] | None,
    ) -> tuple[list[dict[str, Any]], list[Any] | None]:
        """One page of runs: rows without values, and the sort key of its last row if more follow.

        The matching runs are sorted and the page is cut after ``page_size`` rows (plus one, to know whether
        more follow). Sorted by a metric, a param or start time (the default) on a store with
        :data:`SORT_INDEXES`, the page is first looked for in an index's order (:meth:`_walk`); only if
        that does not fill it is the rest read the general way, beyond the entries walked. Both give the
        same rows and the same page tokens."""
        params: dict[str, Any] = {}
        joins, keys = self._order(order, params)
        if after is not None and len(after) != len(keys):
            raise RunQueryError("This page token belongs to another query; start again from the first page.")
        where = self._where(experiment_ids, sides, params)
        if after is not None:
            where.append(self._after(keys, after, params, 0))
        rows: list[Any] = []
        walk = self._walk_plan(order) if self.sort_index else None
        if walk is not None and (after is None or after[: len(walk.lead)] == walk.lead):
            rows, floor = self._walk(walk, experiment_ids, sides, (joins, keys, params), page_size, after)
            # The rest lies beyond the entries walked: past ``floor``, then the runs the walk does not cover.
            lead = len(walk.lead)
            if floor is not None:
                where.append(self._after(keys[: lead + 1], [*walk.lead, floor], params, len(keys)))
            elif lead:
                where.append(self._after(keys[:lead], walk.lead, params, len(keys)))
            else:
                where.append(f"{walk.column} IS NULL")
        if len(rows) <= page_size:
            select = ", ".join(f"{expr} AS s{i}" for i, (expr, _) in enumerate(keys))
            order_sql = ", ".join(f"s{i}{' DESC' if desc else ''}" for i, (_, desc) in enumerate(keys))
            sql = (
                f"SELECT {_RUN_COLUMNS}, {select} FROM runs r {' '.join(joins)} WHERE {' AND '.join(where)} "
                f"ORDER BY {order_sql} LIMIT {int(page_size) + 1 - len(rows)}"
            )
            rows += self._all_with_glob(sql, params)
        more = len(rows) > page_size
        rows = rows[:page_size]
        out = [
            {
                "run_id": r[0],
                "experiment_id": str(r[1]),
                "run_name": r[2] or "",
                "status": r[3],
                "start_time": r[4],
                "end_time": r[5],
                "user_id": r[6] or "",
            }
            for r in rows
        ]
        last = list(rows[-1][7:]) if more and rows else None
        return out, last

    @staticmethod
    def _walk_plan(order: Sequence[SortKey]) -> _WalkPlan | None:
        """How to walk an index in the order ``order`` starts with (None: no index gives it)."""
        if not order:  # _order's keys: COALESCE(start_time, 0) DESC, run_uuid
            return _WalkPlan("runs r", "r.start_time", ["r.start_time IS NOT NULL"], [], ascending=False)
        first = order[0]
        if first.column.kind == "metric":  # keys: rank (0: a value), value, ...
            return _WalkPlan(
                "latest_metrics o0 JOIN runs r ON r.run_uuid = o0.run_uuid",
                "o0.value",
                ["o0.key = :ok0", "o0.is_nan = FALSE"],
                [0],
                first.ascending,
                joins_used=1,
            )
        if first.column.kind == "param":  # keys: rank (0: set), value, ...
            return _WalkPlan(
                "params o0 JOIN runs r ON r.run_uuid = o0.run_uuid",
                "o0.value",
                ["o0.key = :ok0"],
                [0],
                first.ascending,
                joins_used=1,
            )
        if first.column.kind == "attribute" and first.column.key == "start_time":  # keys: rank (0: set), time, ...
            return _WalkPlan("runs r", "r.start_time", ["r.start_time IS NOT NULL"], [0], first.ascending)
        return None

    def _walk(
        self,
        plan: _WalkPlan,
        experiment_ids: Sequence[str],
        sides: Sequence[Sequence[dict[str, Any]]],
        ordering: tuple[list[str], list[tuple[str, bool]], dict[str, Any]],
        page_size: int,
        after: list[Any] | None,
    ) -> tuple[list[Any], Any]:
        """The first rows of a page among the runs ``plan`` covers, read in the order of one of
        :data:`SORT_INDEXES`; and the ``floor`` it stopped at (None: it walked every run it covers).

        MLflow's order by a metric has three parts (``_order``'s rank): runs with a value, by value; runs
        whose value is NaN; runs without the metric. Sorted by a metric, this walks the first part's index
        entries (``key, is_nan, value``) in order; by a param, the runs that have it; by start time (or not
        at all: newest first), the runs that have one. It checks each run against the filter with ``EXISTS``
        probes, and stops once the page is full: a page reads about ``page_size / selectivity`` entries,
        however many runs the store holds. A filter few runs pass would make it read the whole index, so
        the walk is bounded to the entries up to ``floor``, the value :data:`WALK_ROWS` entries per row
        wanted from the start (ties with ``floor`` included, so the rows found are exactly the first rows of
        the whole order). When the page is not full by then, :meth:`search` reads the rest filter-first
        (each condition a set of run ids), which is quick precisely when few runs match."""
        joins, keys, order_params = ordering
        lead = len(plan.lead)
        rest_keys, rest_joins = keys[lead + 1 :], " ".join(joins[plan.joins_used :])
        params = dict(order_params)
        where = list(plan.part)
        if after is not None:
            where.append(f"{plan.column} {'>=' if plan.ascending else '<='} :a{lead}")  # lets the index seek
        floor_sql = f"{plan.source.split(' JOIN ')[0]} WHERE {' AND '.join(where)}"
        floor = self._floor(
            floor_sql, plan.column, plan.ascending, min((page_size + 1) * WALK_ROWS, WALK_LIMIT), params
        )
        if floor is not None:
            params["floor"] = floor
            where.append(f"{plan.column} {'<=' if plan.ascending else '>='} :floor")
        where += self._where(experiment_ids, sides, params, correlated=True)
        if after is not None:
            walked = [(plan.column, not plan.ascending), *rest_keys]
            where.append(self._after(walked, after[lead:], params, lead))
        select = [f"{value} AS s{i}" for i, value in enumerate(plan.lead)] + [f"{plan.column} AS s{lead}"]
        select += [f"{e} AS s{lead + 1 + i}" for i, (e, _) in enumerate(rest_keys)]
        order_sql = [f"{plan.column}{'' if plan.ascending else ' DESC'}"]
        order_sql += [f"s{lead + 1 + i}{' DESC' if d else ''}" for i, (_, d) in enumerate(rest_keys)]
        sql = (
            f"SELECT {_RUN_COLUMNS}, {', '.join(select)} FROM {plan.source} {rest_joins} "
            f"WHERE {' AND '.join(where)} ORDER BY {', '.join(order_sql)} LIMIT {page_size + 1}"
        )
        return self._all_with_glob(sql, params), floor

    def _floor(self, source: str, column: str, ascending: bool, entries: int, params: dict[str, Any]) -> Any:
        """The value of ``column`` ``entries`` index entries on in the sort order (None: fewer entries)."""
        rows = self._all(
            f"SELECT {column} FROM {source} ORDER BY {column}{'' if ascending else ' DESC'} "
            f"LIMIT 1 OFFSET {int(entries)}",
            params,
        )
        return rows[0][0] if rows else None

    def count(self, experiment_ids: Sequence[str], sides: Sequence[Sequence[dict[str, Any]]]) -> int:
        params: dict[str, Any] = {}
        where = self._where(experiment_ids, sides, params)
        rows = self._all_with_glob(f"SELECT COUNT(*) FROM runs r WHERE {' AND '.join(where)}", params)
        return int(rows[0][0])

    def _all_with_glob(self, sql: str, params: dict[str, Any]) -> list[Any]:
        import sqlalchemy

        with self._connect() as conn:
            if self.dialect == "sqlite":
                raw = conn.connection.dbapi_connection
                raw.create_function("sf_like_to_glob", 1, like_to_glob, deterministic=True)
            return list(conn.execute(sqlalchemy.text(sql), params).fetchall())

    # -- values of a page -------------------------------------------------------------------------
    def values(self, run_ids: Sequence[str], columns: Sequence[Column]) -> dict[str, dict[str, Any]]:
        """``{run_id: {column name: value}}`` for the runs of a page (plus the tags every row needs)."""
        out: dict[str, dict[str, Any]] = {r: {} for r in run_ids}
        if not run_ids:
            return out
        ids, params = self._in("r", list(run_ids))
        for kind, table in _TABLE.items():
            wanted = [c for c in columns if c.kind == kind]
            keys = [c.key for c in wanted] + (list(ROW_TAGS) if kind == "tag" else [])
            if not keys:
                continue
            names, key_params = self._in("k", keys)
            rows = self._all(
                f"SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN ({ids}) AND key IN ({names})",
                {**params, **key_params},
            )
            for run_id, key, value in rows:
                out[run_id][Column(kind, key).name] = value  # type: ignore[arg-type]  # kind is a ColumnKind
        return out

    def child_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        if not run_ids:
            return {}
        ids, params = self._in("r", list(run_ids))
        rows = self._all(
            f"SELECT value, COUNT(*) FROM tags WHERE key = :p AND value IN ({ids}) GROUP BY value",
            {**params, "p": _PARENT},
        )
        return {r[0]: int(r[1]) for r in rows}


def like_to_glob(pattern: str | None) -> str | None:
    """An SQL LIKE pattern as a (case-sensitive) SQLite GLOB pattern."""
    if pattern is None:
        return None
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def encode_token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise RunQueryError(
            f"Page token {token[:24]!r}... is not one this browser made; start from the first page."
        ) from None
    if not isinstance(payload, dict):
        raise RunQueryError("Page token is not one this browser made; start from the first page.")
    return payload
