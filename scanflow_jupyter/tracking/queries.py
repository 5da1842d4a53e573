"""Queries of the run browser: pages of runs from an MLflow store, never all of them.

:class:`RunStore` answers :class:`RunQuery` objects one page at a time (``search(query, page_token)``),
with only the columns asked for. On a SQL store (the embedded SQLite, PostgreSQL, MySQL) it reads MLflow's
tables directly (:mod:`.sqlquery`, which says how that stays correct); on a tracking server (or when the SQL
schema is not the one it knows) it asks ``MlflowClient.search_runs`` with ``page_token``, and runs a filter
with ``OR`` as one search per side, merged in MLflow's sort order, each run once.

Example
-------
>>> store = RunStore("sqlite:///app/.scanflow/mlflow.db")             # doctest: +SKIP
>>> q = RunQuery(experiment_ids=("1",), filter="metrics.acc > 0.9 OR params.model = 'tree'",
...              order_by=("metrics.acc DESC",), columns=("params.model", "metrics.acc"))
>>> page = store.search(q)                                               # doctest: +SKIP
>>> page.rows[0]["values"]["metrics.acc"], page.next_page_token is not None  # doctest: +SKIP
(0.99, True)
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import hashlib
import io
import json
import logging
import math
import mimetypes
import os
import shlex
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from ..errors import RunQueryError, TrackingError
from .filters import ATTRIBUTES, STATUSES, Column, SortKey, parse_side, quote, split_or
from .sqlquery import ROW_TAGS, SqlRuns, Unsupported, decode_token, encode_token
from .store import StoreConfig, check_reachable, redact, sqlite_path

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

MAX_PAGE = 1000
TEXT_LIMIT = 64 * 1024  # bytes of a text artifact shown
IMAGE_LIMIT = 5 * 1024 * 1024  # an image is sent whole: the most one preview downloads and sends
DOWNLOAD_LIMIT = 16 * 1024 * 1024  # the most a text, CSV or other preview downloads (it shows TEXT_LIMIT of it)
CSV_ROWS = 200
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
TEXT_TYPES = {
    ".txt", ".log", ".json", ".yaml", ".yml", ".md", ".py", ".html", ".htm", ".xml", ".svg", ".toml", ".ini",
    ".cfg", ".sh", ".r", ".sql", ".js", ".ts", ".mlmodel", "",
}  # fmt: skip
CSV_TYPES = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class RunQuery:
    """What the browser shows: experiments, a filter (MLflow syntax plus ``OR``), quick filters, a sort,
    the columns, and the page size.

    ``since`` / ``until`` bound the start time (seconds since the epoch); ``top_level`` keeps only runs
    without a parent (workflow runs and plain runs; their step runs open under them).
    """

    experiment_ids: tuple[str, ...] = ()
    filter: str = ""
    order_by: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    workflow: str = ""
    status: str = ""
    since: float | None = None
    until: float | None = None
    top_level: bool = False
    page_size: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE:
            raise RunQueryError(f"Page size {self.page_size} is out of range: choose 1 to {MAX_PAGE}.")
        if self.status and self.status.upper() not in STATUSES:
            raise RunQueryError(f"Unknown status {self.status!r}: choose one of {', '.join(STATUSES)}.")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise RunQueryError("The date range is empty: 'since' is after 'until'.")

    def quick_clauses(self) -> list[str]:
        out = []
        if self.workflow:
            out.append(f'tags."scanflow.workflow" = {quote(self.workflow)}')
        if self.status:
            out.append(f"attributes.status = '{self.status.upper()}'")
        if self.since is not None:
            out.append(f"attributes.start_time >= {int(self.since * 1000)}")
        if self.until is not None:
            out.append(f"attributes.start_time <= {int(self.until * 1000)}")
        if self.top_level:
            out.append('tags."mlflow.parentRunId" IS NULL')
        return out

    def side_strings(self) -> list[str]:
        """The filter as MLflow filter strings, one per side of ``OR``, quick filters added to each."""
        quick = self.quick_clauses()
        sides = split_or(self.filter) or [""]
        return [" AND ".join([s, *quick] if s else quick) for s in sides]

    def sides(self) -> list[list[dict[str, Any]]]:
        """Every side parsed by MLflow (a bad one is a ``RunQueryError`` naming it)."""
        quick = " AND ".join(self.quick_clauses())
        parsed_quick = parse_side(quick) if quick else []
        sides = split_or(self.filter)
        return [parse_side(s) + parsed_quick for s in sides] if sides else [parsed_quick]

    def sort_keys(self) -> list[SortKey]:
        keys = [SortKey.parse(text) for text in self.order_by if text.strip()]
        names = [k.column.name for k in keys]
        if len(set(names)) != len(names):
            raise RunQueryError(f"Sort by each column once: {', '.join(self.order_by)}.")
        return keys

    def column_list(self) -> list[Column]:
        return [Column.parse(c) for c in self.columns]

    def fingerprint(self) -> str:
        what = [sorted(self.experiment_ids), self.side_strings(), [k.text for k in self.sort_keys()]]
        return hashlib.sha1(json.dumps(what).encode()).hexdigest()[:12]


@dataclass
class RunPage:
    """One page: ``rows`` (dicts, see :meth:`RunStore.search`) and the token of the next page (None: last)."""

    rows: list[dict[str, Any]]
    next_page_token: str | None
    backend: str
    columns: list[str] = field(default_factory=list)


def is_sql_uri(uri: str) -> bool:
    return uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "mssql")


def _attr_values(row: dict[str, Any], columns: Sequence[Column]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in columns:
        if c.kind != "attribute":
            continue
        if c.key == "duration":
            start, end = row.get("start_time"), row.get("end_time")
            out[c.name] = round((end - start) / 1000, 3) if start and end else None
        else:
            out[c.name] = row.get(c.key)
    return out


def _finish_row(row: dict[str, Any], values: dict[str, Any], columns: Sequence[Column]) -> dict[str, Any]:
    tags = {k: values.pop(Column("tag", k).name, None) for k in ROW_TAGS}
    wanted = {c.name for c in columns}
    for tag in ROW_TAGS:
        name = Column("tag", tag).name
        if name in wanted:
            values[name] = tags[tag]
    row.update(
        parent_run_id=tags["mlflow.parentRunId"],
        kind=tags["scanflow.kind"] or "",
        workflow=tags["scanflow.workflow"] or "",
        node=tags["scanflow.node"] or "",
        state=tags["scanflow.state"] or "",
        values={**_attr_values(row, columns), **{k: v for k, v in values.items() if k in wanted}},
    )
    return row


class RunStore:
    """Read runs from an MLflow store, a page at a time.

    Parameters
    ----------
    uri: the tracking URI (``sqlite:///...``, ``http://host:port``, ``postgresql://...``).
    direct: read a SQL store's tables directly (None: when possible, else MlflowClient; False: never).
    sort_index: on a SQLite store, add the indexes that make sorted pages fast (metric, param, start time)
        if they are missing (:mod:`.sqlquery` says why that is safe); False: leave the store as MLflow made it.

    An unreachable tracking server is a ``TrackingError`` that says how to start one; a bad filter, column
    or sort is a ``RunQueryError`` naming it.
    """

    def __init__(self, uri: str, *, direct: bool | None = None, sort_index: bool = True) -> None:
        self.uri = uri
        check_reachable(StoreConfig(uri, "", None))
        self._client: MlflowClient | None = None
        self._sql: SqlRuns | None = None
        path = sqlite_path(uri)
        if path is not None and not path.is_file():
            raise TrackingError(
                f"There is no MLflow store at {str(path)!r} yet: runs appear once a workflow ran "
                "with tracking on (%scanflow run). Check the path or MLFLOW_TRACKING_URI."
            )
        if direct is not False and is_sql_uri(uri):
            try:
                self._sql = SqlRuns(uri, index=sort_index)
            except Unsupported as exc:
                log.info("reading %s through MlflowClient: %s", redact(uri), exc)
            except Exception as exc:
                if direct:
                    raise TrackingError(f"Cannot read the MLflow store {redact(uri)!r}: {redact(str(exc))}.") from None
                log.info("reading %s through MlflowClient: %s", redact(uri), redact(str(exc)))

    @property
    def backend(self) -> str:
        """``"sql"`` (MLflow's tables, read directly) or ``"mlflow"`` (MlflowClient)."""
        return "sql" if self._sql is not None else "mlflow"

    @property
    def client(self) -> MlflowClient:
        """MLflow's client; for a tracking server, checked reachable first (one TCP connect), because
        MLflow retries a server that went away for minutes before it gives up."""
        check_reachable(StoreConfig(self.uri, "", None), timeout=2.0)
        if self._client is None:
            from mlflow.tracking import MlflowClient

            logging.getLogger("mlflow").setLevel(logging.WARNING)
            self._client = MlflowClient(self.uri)
        return self._client

    def close(self) -> None:
        if self._sql is not None:
            self._sql.close()

    def _guard(self, what: str, exc: Exception) -> TrackingError:
        if isinstance(exc, TrackingError):
            return exc
        check_reachable(StoreConfig(self.uri, "", None), timeout=2.0)  # a server that went away says so
        return TrackingError(f"Cannot {what} from the MLflow store {redact(self.uri)!r}: {redact(str(exc))}")

    # -- experiments and columns ------------------------------------------------------------------
    def experiments(self) -> list[dict[str, Any]]:
        """``[{"id", "name", "runs"}]`` of the active experiments (``runs``: None when not counted)."""
        try:
            if self._sql is not None:
                return self._sql.experiments()
            return [
                {"id": str(e.experiment_id), "name": e.name, "runs": None}
                for e in self.client.search_experiments(max_results=1000)
            ]
        except Exception as exc:
            raise self._guard("list experiments", exc) from None

    def experiment_id(self, name: str) -> str | None:
        return next((e["id"] for e in self.experiments() if e["name"] == name), None)

    def keys(self, experiment_ids: Sequence[str], search: str = "", limit: int = 200) -> dict[str, Any]:
        """The metric, param and tag keys (up to ``limit`` each, containing ``search``), and whether
        more exist (``truncated``). A tracking server is sampled: its first 1,000 runs."""
        try:
            if self._sql is not None:
                return self._sql.keys(experiment_ids, search, limit)
            runs = self.client.search_runs(list(experiment_ids), max_results=1000) if experiment_ids else []
            found: dict[str, set[str]] = {"metrics": set(), "params": set(), "tags": set()}
            for run in runs:
                found["metrics"].update(run.data.metrics)
                found["params"].update(run.data.params)
                found["tags"].update(run.data.tags)
            out: dict[str, Any] = {"truncated": len(runs) >= 1000}
            for kind, keys in found.items():
                hits = sorted(k for k in keys if search.lower() in k.lower())
                out["truncated"] = out["truncated"] or len(hits) > limit
                out[kind] = hits[:limit]
            return out
        except Exception as exc:
            raise self._guard("list the columns", exc) from None

    def check_columns(self, query: RunQuery) -> None:
        """Refuse a column or sort key no run in the store has (a likely typo), naming close matches."""
        import difflib

        wanted = query.column_list() + [k.column for k in query.sort_keys()]
        for column in wanted:
            if column.kind == "attribute":
                continue
            if self._sql is not None:
                if self._sql.has_key(column):
                    continue
                known = self._sql.keys(query.experiment_ids, "", 1000)
            else:
                if self._client_has_key(query.experiment_ids, column):
                    continue
                known = self.keys(query.experiment_ids, "", 1000)
            kind = f"{column.kind}s"
            if column.key in known[kind]:
                continue
            close = difflib.get_close_matches(column.key, known[kind], n=3)
            hint = f" Did you mean {', '.join(repr(Column(column.kind, c).name) for c in close)}?" if close else ""
            raise RunQueryError(
                f"Unknown column {column.name!r}: no run in this store has a {column.kind} {column.key!r}.{hint} "
                "Pick columns from the column list."
            )

    def _client_has_key(self, experiment_ids: Sequence[str], column: Column) -> bool:
        """Whether any run has the key: one or two one-row searches."""
        if not experiment_ids:
            return False
        if column.kind == "metric":
            probes = [f"{column.name} >= 0", f"{column.name} < 0"]
        else:
            probes = [f"{column.name} IS NOT NULL"]
        try:
            return any(self.client.search_runs(list(experiment_ids), p, max_results=1) for p in probes)
        except Exception as exc:
            raise self._guard("check a column", exc) from None

    # -- pages ------------------------------------------------------------------------------------
    def search(self, query: RunQuery, page_token: str | None = None) -> RunPage:
        """A page of ``query``: each row has ``run_id``, ``experiment_id``, ``run_name``, ``status``,
        ``start_time``, ``end_time`` (ms), ``user_id``, ``parent_run_id``, ``kind``, ``workflow``, ``node``,
        ``state``, ``children`` (the number of child runs; None when unknown) and ``values`` (column name ->
        value, for ``query.columns`` only)."""
        sides = query.sides()
        order = query.sort_keys()
        columns = query.column_list()
        token = decode_token(page_token) if page_token else None
        if token is not None and token.get("q") != query.fingerprint():
            raise RunQueryError("This page token belongs to another query; start again from the first page.")
        if not query.experiment_ids:
            return RunPage([], None, self.backend, [c.name for c in columns])
        try:
            if self._sql is not None and (token is None or token.get("b") == "sql"):
                try:
                    return self._sql_page(query, sides, order, columns, token)
                except Unsupported as exc:
                    log.info("query %r through MlflowClient: %s", query.filter, exc)
            return self._client_page(query, order, columns, token)
        except RunQueryError:
            raise
        except Exception as exc:
            raise self._guard_query(exc) from None

    def _guard_query(self, exc: Exception) -> Exception:
        from mlflow.exceptions import MlflowException

        if isinstance(exc, MlflowException) and getattr(exc, "error_code", "") == "INVALID_PARAMETER_VALUE":
            return RunQueryError(f"MLflow refused the query: {redact(str(exc.message))}")
        return self._guard("search runs", exc)

    def _sql_page(
        self,
        query: RunQuery,
        sides: list[list[dict[str, Any]]],
        order: list[SortKey],
        columns: list[Column],
        token: dict[str, Any] | None,
    ) -> RunPage:
        assert self._sql is not None
        rows, last = self._sql.search(
            query.experiment_ids, sides, order, query.page_size, token.get("after") if token else None
        )
        ids = [r["run_id"] for r in rows]
        values = self._sql.values(ids, columns)
        counts = self._sql.child_counts(ids)
        for row in rows:
            _finish_row(row, values[row["run_id"]], columns)
            row["children"] = counts.get(row["run_id"], 0)
        next_token = encode_token({"q": query.fingerprint(), "b": "sql", "after": last}) if last is not None else None
        return RunPage(rows, next_token, "sql", [c.name for c in columns])

    def _client_page(
        self, query: RunQuery, order: list[SortKey], columns: list[Column], token: dict[str, Any] | None
    ) -> RunPage:
        sides = query.side_strings()
        branches: list[dict[str, Any]] = token["branches"] if token else [{"t": None, "skip": 0} for _ in sides]
        if len(branches) != len(sides):
            raise RunQueryError("This page token belongs to another query; start again from the first page.")
        size = query.page_size
        buffers: list[list[Run]] = []
        nexts: list[str | None] = []
        for side, branch in zip(sides, branches, strict=True):
            if branch.get("done"):
                buffers.append([])
                nexts.append(None)
                continue
            page = self._client_search(query, side, order, size, branch["t"])
            buffers.append(list(page)[branch["skip"] :])
            nexts.append(_token(page.token))
        key = functools.cmp_to_key(functools.partial(_compare_runs, order))
        picked: list[Run] = []
        while len(picked) < size:
            for i, buffer in enumerate(buffers):
                if not buffer and nexts[i]:
                    page = self._client_search(query, sides[i], order, size, nexts[i])
                    branches[i] = {"t": nexts[i], "skip": 0}
                    buffers[i] = list(page)
                    nexts[i] = _token(page.token)
            heads = [b[0] for b in buffers if b]
            if not heads:
                break
            best = min(heads, key=key)
            for i, buffer in enumerate(buffers):
                if buffer and buffer[0].info.run_id == best.info.run_id:  # one run matching two sides: once
                    buffer.pop(0)
                    branches[i] = {**branches[i], "skip": branches[i]["skip"] + 1}
            picked.append(best)
        for i, buffer in enumerate(buffers):
            if not buffer and not nexts[i]:
                branches[i] = {"t": None, "skip": 0, "done": True}
        more = any(not b.get("done") for b in branches)
        rows = [self._client_row(run, columns) for run in picked]
        next_token = encode_token({"q": query.fingerprint(), "b": "mlflow", "branches": branches}) if more else None
        if more and len(picked) < size:
            next_token = None
        return RunPage(rows, next_token, "mlflow", [c.name for c in columns])

    def _client_search(self, query: RunQuery, side: str, order: list[SortKey], size: int, token: str | None) -> Any:
        return self.client.search_runs(
            list(query.experiment_ids),
            filter_string=side,
            max_results=size,
            order_by=[k.text for k in order],
            page_token=token,
        )

    @staticmethod
    def _client_row(run: Run, columns: Sequence[Column]) -> dict[str, Any]:
        info, data = run.info, run.data
        row: dict[str, Any] = {
            "run_id": info.run_id,
            "experiment_id": str(info.experiment_id),
            "run_name": info.run_name or "",
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "user_id": info.user_id or "",
        }
        values: dict[str, Any] = {}
        for c in columns:
            source = cast(
                "dict[str, Any] | None", {"metric": data.metrics, "param": data.params, "tag": data.tags}.get(c.kind)
            )
            if source is not None and c.key in source:
                values[c.name] = source[c.key]
        for tag in ROW_TAGS:
            if tag in data.tags:
                values[Column("tag", tag).name] = data.tags[tag]
        _finish_row(row, values, columns)
        row["children"] = None if row["kind"] not in ("run", "workflow") else 1
        return row

    def count(self, query: RunQuery) -> int | None:
        """How many runs match (None on a tracking server, where counting means reading every run)."""
        if self._sql is None or not query.experiment_ids:
            return 0 if not query.experiment_ids else None
        try:
            return self._sql.count(query.experiment_ids, query.sides())
        except Unsupported:
            return None

    def children(self, run_id: str, columns: Sequence[str] = (), limit: int = MAX_PAGE) -> list[dict[str, Any]]:
        """The child runs of ``run_id`` (a workflow run's nested workflows and steps), oldest first."""
        run = self.get_run(run_id)
        query = RunQuery(
            experiment_ids=(str(run.info.experiment_id),),
            filter=f'tags."mlflow.parentRunId" = {quote(run_id)}',
            order_by=("attributes.start_time ASC",),
            columns=tuple(columns),
            page_size=limit,
        )
        return self.search(query).rows

    # -- one run ----------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise RunQueryError(f"No run {run_id!r} in {redact(self.uri)!r}; it may have been deleted.") from None
            raise self._guard("read a run", exc) from None
        except Exception as exc:
            raise self._guard("read a run", exc) from None

    def run_detail(self, run_id: str, metric_limit: int = 1000) -> dict[str, Any]:
        """Everything the run view shows: info, params, metrics (the first ``metric_limit`` keys), tags and
        the top-level artifacts."""
        run = self.get_run(run_id)
        info, data = run.info, run.data
        metrics = sorted(data.metrics.items())
        return {
            "run_id": info.run_id,
            "experiment_id": str(info.experiment_id),
            "run_name": info.run_name or "",
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "user_id": info.user_id or "",
            "artifact_uri": redact(info.artifact_uri),
            "params": dict(sorted(data.params.items())),
            "metrics": dict(_json_number(m) for m in metrics[:metric_limit]),
            "metrics_total": len(metrics),
            "tags": dict(sorted((k, v) for k, v in data.tags.items() if not k.startswith("mlflow.log-model"))),
            "artifacts": self.artifacts(run_id),
        }

    def search_metrics(self, run_id: str, search: str, limit: int = 1000) -> dict[str, Any]:
        """The run's metrics whose key contains ``search`` (for runs with thousands of keys)."""
        data = self.get_run(run_id).data.metrics
        hits = sorted((k, v) for k, v in data.items() if search.lower() in k.lower())
        return dict(_json_number(m) for m in hits[:limit])

    def artifacts(self, run_id: str, path: str = "", limit: int = 500) -> list[dict[str, Any]]:
        """Artifacts under ``path`` (one level): ``[{"path", "is_dir", "size"}]``."""
        try:
            files = self.client.list_artifacts(run_id, path or None)
        except Exception as exc:
            raise self._guard("list artifacts", exc) from None
        return [{"path": f.path, "is_dir": bool(f.is_dir), "size": f.file_size} for f in files[:limit]]

    def artifact_entry(self, run_id: str, path: str) -> dict[str, Any] | None:
        """The listing entry of artifact ``path`` (``{"path", "is_dir", "size"}``), from its folder's
        listing; None if there is none."""
        parent = str(PurePosixPath(path).parent)
        try:
            files = self.client.list_artifacts(run_id, None if parent == "." else parent)
        except Exception as exc:
            raise self._guard("list artifacts", exc) from None
        wanted = path.strip("/")
        for f in files:
            if f.path.strip("/") == wanted:
                return {"path": f.path, "is_dir": bool(f.is_dir), "size": f.file_size}
        return None

    def preview(self, run_id: str, path: str) -> dict[str, Any]:
        """A preview of one artifact: ``kind`` text, csv, image, binary, dir or too_large, with ``text``,
        ``rows`` (a CSV's first rows, as lists of strings), ``data_url`` (an image), ``entries`` (a folder's
        listing) or ``message`` (why it is not shown, and how to download it).

        The artifact's size is read from the listing first: a folder is listed, never downloaded; a file
        bigger than :data:`DOWNLOAD_LIMIT` (:data:`IMAGE_LIMIT` for an image), or whose size the artifact
        store does not report, is not downloaded."""
        clean = PurePosixPath(path)
        if clean.is_absolute() or ".." in clean.parts or not path:
            raise RunQueryError(f"Artifact path {path!r} is not inside the run; pick it from the artifact list.")
        suffix = clean.suffix.lower()
        out: dict[str, Any] = {"path": path, "kind": "binary", "truncated": False}
        entry = self.artifact_entry(run_id, path)
        if entry is None:
            raise RunQueryError(f"Run {run_id} has no artifact {path!r}; pick one from the artifact list.")
        if entry["is_dir"]:
            return {**out, "kind": "dir", "entries": self.artifacts(run_id, path)}
        size = entry["size"]
        limit = IMAGE_LIMIT if suffix in IMAGE_TYPES else DOWNLOAD_LIMIT
        if size is None or size > limit:
            return {**out, "kind": "too_large", "size": size, "message": too_large(run_id, path, size, limit)}
        with tempfile.TemporaryDirectory(prefix="scanflow-artifact-") as tmp:
            try:
                with _no_progress_bar():  # a preview is small; MLflow's bar would land in the notebook cell
                    local = Path(self.client.download_artifacts(run_id, path, tmp))
            except Exception as exc:
                raise RunQueryError(f"Cannot open artifact {path!r} of run {run_id}: {redact(str(exc))}") from None
            if local.is_dir():
                return {**out, "kind": "dir", "entries": self.artifacts(run_id, path)}
            size = local.stat().st_size
            out["size"] = size
            if suffix in IMAGE_TYPES:
                if size > IMAGE_LIMIT:  # the listing said less: the file changed meanwhile
                    return {**out, "kind": "too_large", "message": too_large(run_id, path, size, IMAGE_LIMIT)}
                data = base64.b64encode(local.read_bytes()).decode()
                return {**out, "kind": "image", "data_url": f"data:{IMAGE_TYPES[suffix]};base64,{data}"}
            with local.open("rb") as fh:
                head = fh.read(TEXT_LIMIT + 1)
            out["truncated"] = len(head) > TEXT_LIMIT
            head = head[:TEXT_LIMIT]
            guessed = mimetypes.guess_type(local.name)[0] or ""
            if b"\0" in head:
                return out
            text = head.decode("utf-8", "replace")
            if suffix in CSV_TYPES:
                lines = text.splitlines()[: CSV_ROWS + 1]
                rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=CSV_TYPES[suffix]))
                out["truncated"] = out["truncated"] or len(text.splitlines()) > CSV_ROWS + 1
                return {**out, "kind": "csv", "rows": rows}
            if suffix in TEXT_TYPES or guessed.startswith("text/"):
                return {**out, "kind": "text", "text": text}
            return {**out, "kind": "text", "text": text} if text.isprintable() or "\n" in text else out

    def metric_history(self, run_id: str, key: str, max_points: int | None = 500) -> dict[str, Any]:
        """A metric's history, as ``steps`` and ``values``; with ``max_points``, downsampled (each bucket
        keeps its minimum and maximum, so spikes survive)."""
        try:
            history = self.client.get_metric_history(run_id, key)
        except Exception as exc:
            raise self._guard("read a metric history", exc) from None
        points = sorted((m.step, m.timestamp, m.value) for m in history)
        total = len(points)
        if max_points is not None and total > max_points:
            points = _downsample(points, max_points)
        return {
            "run_id": run_id,
            "key": key,
            "steps": [p[0] for p in points],
            "values": [_json_number(("", p[2]))[1] for p in points],
            "total": total,
            "downsampled": len(points) < total,
        }

    def frame(self, run_ids: Sequence[str]) -> Any:
        """The runs as a pandas DataFrame shaped like ``mlflow.search_runs``' (``params.*``, ``metrics.*``,
        ``tags.*``)."""
        import pandas as pd

        rows = []
        for run_id in run_ids:
            run = self.get_run(run_id)
            info, data = run.info, run.data
            row: dict[str, Any] = {
                "run_id": info.run_id,
                "experiment_id": str(info.experiment_id),
                "run_name": info.run_name,
                "status": info.status,
                "artifact_uri": info.artifact_uri,
                "start_time": pd.to_datetime(info.start_time, unit="ms", utc=True) if info.start_time else None,
                "end_time": pd.to_datetime(info.end_time, unit="ms", utc=True) if info.end_time else None,
            }
            row.update({f"metrics.{k}": v for k, v in data.metrics.items()})
            row.update({f"params.{k}": v for k, v in data.params.items()})
            row.update({f"tags.{k}": v for k, v in data.tags.items()})
            rows.append(row)
        base = ["run_id", "experiment_id", "run_name", "status", "artifact_uri", "start_time", "end_time"]
        return pd.DataFrame(rows, columns=base + sorted({k for r in rows for k in r} - set(base)))


def too_large(run_id: str, path: str, size: int | None, limit: int) -> str:
    """Why an artifact is not previewed, and the command that downloads it."""
    command = f"mlflow artifacts download --run-id {run_id} --artifact-path {shlex.quote(path)}"
    if size is None:
        why = "its artifact store does not say how big it is"
    else:
        why = f"{human_size(size)}; a preview downloads at most {human_size(limit)}"
    return f"{path} is too large to preview ({why}); download it with {command} (MLFLOW_TRACKING_URI: this store)."


def human_size(size: float) -> str:
    """``4 KB``, ``1.5 MB``: a size in the unit that keeps it short."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f}".removesuffix(".0") + f" {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _no_progress_bar() -> Iterator[None]:
    """MLflow's artifact download progress bar off for the duration (unless the user set it either way)."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    if name in os.environ:
        yield
        return
    os.environ[name] = "false"
    try:
        yield
    finally:
        os.environ.pop(name, None)


def _token(token: str | bytes | None) -> str | None:
    """MLflow's SQL store gives page tokens as bytes, its REST client as str."""
    return token.decode() if isinstance(token, bytes) else token


def _json_number(item: tuple[str, float]) -> tuple[str, float | str]:
    """NaN and infinities are not JSON: send them as strings."""
    key, value = item
    return key, value if math.isfinite(value) else str(value)


def _downsample(points: list[tuple[int, int, float]], max_points: int) -> list[tuple[int, int, float]]:
    buckets = max(1, max_points // 2)
    size = len(points) / buckets
    out: list[tuple[int, int, float]] = []
    for b in range(buckets):
        chunk = points[int(b * size) : int((b + 1) * size)]
        if not chunk:
            continue
        lo = min(chunk, key=lambda p: p[2])
        hi = max(chunk, key=lambda p: p[2])
        out.extend(sorted({lo, hi}, key=lambda p: (p[0], p[1])))
    return out


def _sort_value(run: Run, key: SortKey) -> tuple[int, Any]:
    """MLflow's order: values, then NaN (metrics), then missing."""
    column, data, info = key.column, run.data, run.info
    if column.kind == "attribute":
        value = getattr(info, column.key, None)
        return (1, None) if value is None else (0, value)
    source = cast("dict[str, Any]", {"metric": data.metrics, "param": data.params, "tag": data.tags}[column.kind])
    if column.key not in source:
        return (2 if column.kind == "metric" else 1, None)
    value = source[column.key]
    if column.kind == "metric" and math.isnan(value):
        return (1, None)
    return (0, value)


def _compare_runs(order: Sequence[SortKey], a: Run, b: Run) -> int:
    for key in order:
        (ra, va), (rb, vb) = _sort_value(a, key), _sort_value(b, key)
        if ra != rb:
            return -1 if ra < rb else 1
        if va != vb and va is not None and vb is not None:
            less = va < vb
            return (-1 if less else 1) if key.ascending else (1 if less else -1)
    if not any(k.column.kind == "attribute" and k.column.key == "start_time" for k in order):
        sa, sb = a.info.start_time or 0, b.info.start_time or 0
        if sa != sb:
            return -1 if sa > sb else 1
    ia, ib = a.info.run_id, b.info.run_id
    return int(ia > ib) - int(ia < ib)


def rows_to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A page as CSV: run id, name, status, then the columns (values as text)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = [
        "run_id",
        "run_name",
        "status",
        *[c for c in columns if c not in ("attributes.run_name", "attributes.status")],
    ]
    writer.writerow(head)
    for row in rows:
        values = row.get("values", {})
        writer.writerow([row["run_id"], row["run_name"], row["status"], *[_cell(values.get(c)) for c in head[3:]]])
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


__all__ = ["ATTRIBUTES", "RunPage", "RunQuery", "RunStore", "is_sql_uri", "rows_to_csv"]
