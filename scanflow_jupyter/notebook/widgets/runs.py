"""The run browser: the Python model of ``labextension/src/widgets/runs.ts``.

Browse the runs of an MLflow store in the notebook: pick experiments and columns, filter (MLflow's search
syntax plus ``OR``, and quick filters by workflow, status and date), sort, page on the server side, open a
workflow run's step runs under it, compare runs (params side by side, metrics, metric-history charts,
parallel coordinates), open a run (params, metrics, tags, artifact previews, its workflow graph). The
kernel holds one page of rows (and the page tokens behind it); the view renders only the visible rows.
The wire protocol is ``labextension/src/widgets/PROTOCOL.md``.

Example
-------
>>> from scanflow_jupyter.notebook import RunBrowser
>>> browser = RunBrowser("sqlite:///app/.scanflow/mlflow.db", filter="metrics.acc > 0.9")  # doctest: +SKIP
>>> browser                                          # doctest: +SKIP
>>> browser.selected = browser.rows[0]["run_id"], browser.rows[1]["run_id"]  # doctest: +SKIP
>>> browser.selected_runs()                          # doctest: +SKIP  (a pandas DataFrame)
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypedDict

import ipywidgets
from traitlets import Bool, Dict, Instance, Int, List, Unicode, observe

from ...errors import RunQueryError, ScanflowError, TrackingError
from ...tracking.queries import MAX_PAGE, RunPage, RunQuery, RunStore, rows_to_csv
from ...tracking.store import redact, resolve_uri
from ...workflow import Application, Executor, Workflow
from .graph import MODULE_NAME, MODULE_VERSION, GraphView, mlflow_store, mlflow_url, step_metrics

log = logging.getLogger(__name__)

DEFAULT_COLUMNS = ("attributes.start_time", "attributes.duration")
MAX_COMPARE = 200  # runs in a comparison (parallel coordinates); tables and charts show the first ones
MAX_CHART_RUNS = 20
MAX_CHART_KEYS = 8
CHART_POINTS = 500  # points of a history in a chart (downsampled: each bucket keeps its min and max)
MAX_CHART_POINTS = 200_000  # points of one chart request, runs x keys x points, at full resolution too
MAX_COMPARE_KEYS = 500
# A sort by a param whose values are all numbers is done here, numerically, when at most this many runs match:
# MLflow (and so the store) sorts params as text ("10" before "8"). Beyond it the store's text order stays.
NUMERIC_SORT_MAX = 5000
STEP_STATES = {"FINISHED": "succeeded", "FAILED": "failed", "KILLED": "cancelled", "RUNNING": "running"}
QUERY_TRAITS = ("experiment_ids", "filter", "quick", "order_by", "columns", "page_size", "tree")


class PageInfo(TypedDict):
    """The ``page`` trait."""

    index: int
    size: int
    has_prev: bool
    has_next: bool
    total: int | None
    backend: str


def store_uri(app: Application | None) -> str:
    """The tracking URI of ``app`` (its tracker, ``MLFLOW_TRACKING_URI``, its SQLite), or of the
    environment when there is no application (:func:`~scanflow_jupyter.tracking.store.resolve_uri`)."""
    uri = resolve_uri(app)
    if not uri:
        raise TrackingError(
            "No MLflow store to browse: load an application (%scanflow load PATH), pass --uri, or set "
            "MLFLOW_TRACKING_URI."
        )
    return uri


def application_from_graph(app_name: str, graph: dict[str, Any]) -> Application:
    """An application holding the workflow recorded in a run's ``scanflow/graph.json`` (leaf addresses
    with their leaf dependencies, and nested groups), for drawing a run whose application is not loaded."""
    name = str(graph.get("workflow") or "workflow")
    deps: dict[str, list[str]] = {a: list(d) for a, d in dict(graph.get("nodes", {})).items()}
    groups = sorted(dict(graph.get("groups", {})), key=lambda g: g.count("/"))
    root = Workflow(name=name)
    made: dict[str, Workflow] = {"": root}

    def parent_of(address: str) -> str:
        return address.rsplit("/", 1)[0] if "/" in address else ""

    for group in groups:
        node = Workflow(name=group.rsplit("/", 1)[-1])
        made[parent_of(group)].nodes.append(node)
        made[group] = node
    for address in deps:
        made[parent_of(address)].nodes.append(Executor(name=address.rsplit("/", 1)[-1], function="recorded:step"))

    def sibling_pair(a: str, b: str) -> tuple[str, str] | None:
        pa, pb = a.split("/"), b.split("/")
        i = 0
        while i < min(len(pa), len(pb)) - 1 and pa[i] == pb[i]:
            i += 1
        if pa[:i] != pb[:i] or pa[i] == pb[i]:
            return None
        return "/".join(pa[: i + 1]), "/".join(pb[: i + 1])

    for address, dep_list in deps.items():
        for dep in dep_list:
            pair = sibling_pair(address, dep)
            if pair is None:
                continue
            node_address, dep_address = pair
            container = made[parent_of(node_address)]
            target = next(n for n in container.nodes if n.name == node_address.rsplit("/", 1)[-1])
            if dep_address.rsplit("/", 1)[-1] not in target.depends_on:
                target.depends_on.append(dep_address.rsplit("/", 1)[-1])
    return Application(name=app_name or "app", workflows=[root])


class RunBrowser(ipywidgets.DOMWidget):  # type: ignore[misc]  # DOMWidget is untyped (Any)
    """Browse, filter, sort, page, compare and open the runs of an MLflow store.

    Parameters
    ----------
    uri: the tracking URI; default: the application's store, else ``MLFLOW_TRACKING_URI``.
    app: the current application (its experiment is shown first; its workflows draw opened runs).
    experiments: experiment names or ids to show (default: the application's, else all).
    filter, order_by, columns, page_size, tree: the first query (see :class:`~scanflow_jupyter.tracking.RunQuery`).
    ui_url: the MLflow UI to link runs to (default: the tracking URI when it is an MLflow server).
    direct, sort_index: how a SQL store is read (see :class:`~scanflow_jupyter.tracking.RunStore`); with
        ``sort_index=False`` a SQLite store is left exactly as MLflow made it (sorted pages are then slower).
    numeric_params: sort by a param numerically when every value it has is a number (MLflow and the store sort
        params as text, so 10 comes before 8): the browser reads the matching runs (at most
        :data:`NUMERIC_SORT_MAX`) and sorts them itself. False keeps MLflow's text order.

    A bad filter, column or sort given here raises ``RunQueryError``; the same mistake made in the view is
    shown in ``error`` and the last good page stays.
    """

    _model_name = Unicode("RunBrowserModel").tag(sync=True)
    _view_name = Unicode("RunBrowserView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    experiments = List(Dict(), help="[{id, name, runs}] of the store's experiments.").tag(sync=True)
    experiment_ids = List(Unicode(), help="The experiments shown.").tag(sync=True)
    filter = Unicode("", help="MLflow search syntax, with OR between alternatives.").tag(sync=True)
    quick = Dict(help="Quick filters: workflow, status, since, until (ISO dates or '').").tag(sync=True)
    order_by = List(Unicode(), help="Sort keys, e.g. 'metrics.acc DESC'.").tag(sync=True)
    columns = List(Unicode(), help="Column names: metrics.K, params.K, tags.K, attributes.A.").tag(sync=True)
    available = Dict(help="{metrics, params, tags, truncated, workflows}: columns to choose from.").tag(sync=True)
    page_size = Int(100, help="Rows per page.").tag(sync=True)
    tree = Bool(True, help="Show top-level runs, with their child runs under them.").tag(sync=True)
    rows = List(Dict(), help="The current page's rows.").tag(sync=True)
    page = Dict(help="{index, size, has_prev, has_next, total, backend}.").tag(sync=True)
    children = Dict(help="Run id -> child rows of the expanded runs.").tag(sync=True)
    selected = List(Unicode(), help="Selected run ids.").tag(sync=True)
    mode = Unicode("table", help="table, compare or run.").tag(sync=True)
    compare_data = Dict(help="The comparison of the selected runs.").tag(sync=True)
    run = Dict(help="The opened run.").tag(sync=True)
    preview = Dict(help="The previewed artifact.").tag(sync=True)
    graph = Instance(GraphView, allow_none=True, help="The opened run's workflow graph.").tag(
        sync=True, **ipywidgets.widget_serialization
    )
    error = Unicode("", help="The last error, as text.").tag(sync=True)
    message = Unicode("", help="A status line.").tag(sync=True)
    ui_url = Unicode("", help="Base URL of the MLflow UI, for links.").tag(sync=True)
    revision = Int(0, help="Incremented after each answered request.").tag(sync=True)
    height = Unicode("460px", help="CSS height of the table.").tag(sync=True)

    def __init__(
        self,
        uri: str | None = None,
        *,
        app: Application | None = None,
        experiments: Sequence[str] | None = None,
        filter: str = "",
        order_by: Sequence[str] = (),
        columns: Sequence[str] | None = None,
        page_size: int = 100,
        tree: bool = True,
        ui_url: str | None = None,
        direct: bool | None = None,
        sort_index: bool = True,
        numeric_params: bool = True,
        **kwargs: Any,
    ) -> None:
        self._app = app
        self._numeric_params = numeric_params
        self._sorted_rows: list[dict[str, Any]] | None = None  # the runs sorted here (numeric_params), all pages
        self._sort_note = ""  # why a param sorts as text although numeric_params is on (too many runs)
        self._loading = True  # observers wait until everything is set
        self._tokens: list[str | None] = [None]
        self._store = RunStore(uri or store_uri(app), direct=direct, sort_index=sort_index)
        uri = self._store.uri
        # A link, not the URI: no credentials in it (the browser asks for them).
        base = ui_url if ui_url is not None else (uri if uri.startswith(("http://", "https://")) else "")
        base = redact(base, keep_user=False)
        super().__init__(ui_url=base, page_size=page_size, tree=tree, filter=filter, order_by=list(order_by), **kwargs)
        try:
            self.experiments = self._store.experiments()
            self.experiment_ids = self._pick_experiments(experiments)
            self.available = self._available("")
            self.columns = list(columns) if columns is not None else self._default_columns()
            query = self._query()  # bad arguments raise here, before the widget shows
            self._store.check_columns(query)
            self._loading = False
            self._load(0, raise_errors=True)
        except BaseException:
            self.close()  # no half-made widget left open in the kernel
            raise
        self.on_msg(self._on_msg)

    # -- public API -------------------------------------------------------------------------------
    @property
    def store(self) -> RunStore:
        return self._store

    def query(self) -> RunQuery:
        """The query the table shows."""
        return self._query()

    def refresh(self) -> None:
        """Reload the experiments and the first page (errors go to ``error``)."""
        try:
            self.experiments = self._store.experiments()
            self.available = self._available("")
        except ScanflowError as exc:
            self.error = str(exc)
            self.revision += 1
            return
        self._load(0)

    def next_page(self) -> None:
        if self.page.get("has_next"):
            self._load(self.page["index"] + 1)

    def prev_page(self) -> None:
        if self.page.get("index", 0) > 0:
            self._load(self.page["index"] - 1)

    def selected_runs(self) -> Any:
        """The selected runs as a pandas DataFrame (``mlflow.search_runs`` columns)."""
        return self._store.frame(self.selected)

    def to_frame(self) -> Any:
        """The current page as a pandas DataFrame (run id, name, status and the columns)."""
        import pandas as pd

        data = [
            {"run_id": r["run_id"], "run_name": r["run_name"], "status": r["status"], **r["values"]} for r in self.rows
        ]
        return pd.DataFrame(data, columns=["run_id", "run_name", "status", *self.columns])

    def to_csv(self, path: str | Path | None = None, *, all_pages: bool = False) -> str:
        """The current page (or every page, read one at a time) as CSV; written to ``path`` if given."""
        if not all_pages:
            text = rows_to_csv(self.rows, self.columns)
        else:
            query, token = self._query(), None
            parts: list[str] = []
            while True:
                page = self._store.search(query, token)
                chunk = rows_to_csv(page.rows, self.columns)
                parts.append(chunk if not parts else chunk.split("\n", 1)[1])
                token = page.next_page_token
                if token is None:
                    break
            text = "".join(parts)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def compare(self, run_ids: Sequence[str] | None = None, chart_keys: Sequence[str] | None = None) -> None:
        """Show the comparison of ``run_ids`` (default: the selection)."""
        ids = list(run_ids if run_ids is not None else self.selected)[:MAX_COMPARE]
        try:
            if len(ids) < 2:
                raise ScanflowError("Select at least two runs to compare (tick them in the table).")
            self.compare_data = self._comparison(ids, chart_keys, full=False)
            self.mode = "compare"
            self.error = ""
        except ScanflowError as exc:
            self.error = str(exc)
        self.revision += 1

    def open_run(self, run_id: str) -> None:
        """Show one run: params, metrics, tags, artifacts and its workflow graph."""
        try:
            detail = self._store.run_detail(run_id)
            detail["mlflow_url"] = mlflow_url(self.ui_url, detail["experiment_id"], run_id) or ""
            self.run = detail
            self.preview = {}
            self._set_graph(self._graph_for(detail))
            self.mode = "run"
            self.error = ""
        except ScanflowError as exc:
            self.error = str(exc)
        self.revision += 1

    def open_artifact(self, path: str) -> None:
        """Preview an artifact of the opened run."""
        try:
            self.preview = self._store.preview(self.run["run_id"], path)
            self.error = ""
        except (ScanflowError, KeyError) as exc:
            self.error = str(exc) if isinstance(exc, ScanflowError) else "Open a run first."
        self.revision += 1

    # -- queries ----------------------------------------------------------------------------------
    def _pick_experiments(self, wanted: Sequence[str] | None) -> list[str]:
        by_name = {e["name"]: e["id"] for e in self.experiments}
        ids = {e["id"] for e in self.experiments}
        if wanted:
            out = []
            for item in wanted:
                if item in ids:
                    out.append(item)
                elif item in by_name:
                    out.append(by_name[item])
                else:
                    names = ", ".join(sorted(by_name)) or "none"
                    raise TrackingError(
                        f"No experiment {item!r} in {redact(self._store.uri)!r}; its experiments: {names}."
                    )
            return out
        if self._app is not None:
            from ...tracking import resolve

            name = resolve(self._app).experiment
            if name in by_name:
                return [by_name[name]]
        with_runs = [e["id"] for e in self.experiments if e["runs"] != 0]
        return with_runs or [e["id"] for e in self.experiments]

    def _available(self, search: str) -> dict[str, Any]:
        keys = self._store.keys(self.experiment_ids, search) if self.experiment_ids else {"truncated": False}
        return {
            "metrics": keys.get("metrics", []),
            "params": keys.get("params", []),
            "tags": keys.get("tags", []),
            "truncated": bool(keys.get("truncated")),
            "search": search,
        }

    def _default_columns(self) -> list[str]:
        from ...tracking.filters import Column

        params = [Column("param", k).name for k in self.available.get("params", [])[:3]]
        metrics = [Column("metric", k).name for k in self.available.get("metrics", [])[:3]]
        return [*DEFAULT_COLUMNS, *params, *metrics]

    def _query(self, top_level: bool | None = None) -> RunQuery:
        quick = dict(self.quick)
        return RunQuery(
            experiment_ids=tuple(self.experiment_ids),
            filter=self.filter,
            order_by=tuple(self.order_by),
            columns=tuple(self.columns),
            workflow=str(quick.get("workflow") or ""),
            status=str(quick.get("status") or ""),
            since=_seconds(quick.get("since"), "since"),
            until=_seconds(quick.get("until"), "until", end_of_day=True),
            top_level=self.tree if top_level is None else top_level,
            page_size=max(1, min(MAX_PAGE, self.page_size)),
        )

    def _load(self, index: int, raise_errors: bool = False) -> None:
        """Show page ``index`` (0: the first; the token of page i+1 is kept when page i is read).

        In the tree with a filter, the filter is matched against every run, and a matching child run (a step
        run) is shown under its parent, opened: ``metrics.train_accuracy > 0.8`` matches step runs only."""
        matched_children = self.tree and bool(self.filter.strip())
        children: dict[str, list[dict[str, Any]]] = {}
        try:
            query = self._query(top_level=False if matched_children else None)
            if index == 0:
                self._store.check_columns(query)
                self._tokens = [None]
            if index == 0:
                self._sort_note = ""
                self._sorted_rows = self._numeric_sort(query)
            if self._sorted_rows is not None:
                page = self._local_page(query, index)
            else:
                page = self._store.search(query, self._tokens[index])
            rows = page.rows
            if matched_children:
                rows, children = self._under_parents(rows)
        except ScanflowError as exc:
            if raise_errors:
                raise
            self.error = str(exc)
            self.revision += 1
            return
        del self._tokens[index + 1 :]
        if page.next_page_token is not None:
            self._tokens.append(page.next_page_token)
        known = self.page.get("total") if index > 0 else None
        if index == 0 and page.next_page_token is None:
            known = len(page.rows)  # one page: that is the count
        info: PageInfo = {
            "index": index,
            "size": query.page_size,
            "has_prev": index > 0,
            "has_next": page.next_page_token is not None,
            "total": known,
            "backend": page.backend,
        }
        counting = index == 0 and known is None
        self._show(rows, info, done=not counting, children=children, matched=len(page.rows))
        if counting:
            # Counting reads every matching run: the page goes to the view first, the count follows (and
            # ``revision`` moves once both are there).
            try:
                total = self._store.count(query)
            except ScanflowError as exc:
                log.info("RunBrowser: no count: %s", exc)
                total = None
            self._show(rows, {**info, "total": total}, rows_changed=False, children=children, matched=len(page.rows))

    def _numeric_sort(self, query: RunQuery) -> list[dict[str, Any]] | None:
        """Every matching run, sorted here by the first sort key when it is a param whose values are all numbers
        (``numeric_params``); None when the store's order stands (another sort, text values, too many runs)."""
        from ...tracking.filters import SortKey

        if not self._numeric_params or not query.order_by:
            return None
        first = SortKey.parse(query.order_by[0])
        if first.column.kind != "param":
            return None
        name = first.column.name
        too_many = (
            f" Sorted by {name} as text (MLflow's order): more than {NUMERIC_SORT_MAX:,} runs match; "
            "narrow the filter to sort it by number."
        )
        total = self._store.count(query)  # a SQL count, quick: no reading runs that would not be sorted here
        if total is not None and total > NUMERIC_SORT_MAX:
            self._sort_note = too_many
            return None
        wide = replace(query, columns=tuple(dict.fromkeys([*query.columns, name])), page_size=MAX_PAGE)
        rows: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._store.search(wide, token)
            rows += page.rows
            token = page.next_page_token
            if token is None:
                break
            if len(rows) > NUMERIC_SORT_MAX:
                self._sort_note = too_many
                return None
        values = [r["values"].get(name) for r in rows]
        present = [v for v in values if v not in (None, "")]
        if not present or not all(_is_number(v) for v in present):
            return None
        # Runs without the param stay last, in either direction, as MLflow puts them; ties keep the store's order.
        have = [r for r, v in zip(rows, values, strict=True) if v not in (None, "")]
        missing = [r for r, v in zip(rows, values, strict=True) if v in (None, "")]
        have.sort(key=lambda r: float(r["values"][name]), reverse=not first.ascending)
        shown = {c.name for c in query.column_list()}
        for r in have + missing:
            if name not in shown:
                r["values"] = {k: v for k, v in r["values"].items() if k in shown}
        return have + missing

    def _local_page(self, query: RunQuery, index: int) -> RunPage:
        """Page ``index`` of the runs sorted here (the token only says whether more follow)."""
        rows = self._sorted_rows or []
        start = index * query.page_size
        more = start + query.page_size < len(rows)
        return RunPage(rows[start : start + query.page_size], "local" if more else None, "numeric", list(query.columns))

    def _under_parents(
        self, rows: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """Matching runs as the tree shows them: each child run under its parent (read from the store), the
        parents in the order their first match came."""
        children: dict[str, list[dict[str, Any]]] = {}
        order: list[str] = []
        own = {r["run_id"]: r for r in rows if not r.get("parent_run_id")}
        for row in rows:
            parent = row.get("parent_run_id") or ""
            key = parent or row["run_id"]
            if key not in order:
                order.append(key)
            if parent:
                children.setdefault(parent, []).append(row)
        missing = [k for k in order if k not in own]
        for start in range(0, len(missing), MAX_PAGE):
            chunk = missing[start : start + MAX_PAGE]
            listed = ", ".join(f"'{run_id}'" for run_id in chunk)
            found = self._store.search(
                RunQuery(
                    experiment_ids=tuple(self.experiment_ids),
                    filter=f"attributes.run_id IN ({listed})",
                    columns=tuple(self.columns),
                    page_size=MAX_PAGE,
                )
            ).rows
            own.update({r["run_id"]: r for r in found})
        return [own[k] for k in order if k in own], children

    def _show(
        self,
        rows: list[dict[str, Any]],
        info: PageInfo,
        rows_changed: bool = True,
        done: bool = True,
        children: dict[str, list[dict[str, Any]]] | None = None,
        matched: int | None = None,
    ) -> None:
        total = info["total"]
        with self.hold_sync():
            if rows_changed:
                self.rows = rows
                self.children = dict(children or {})
                self.error = ""
            self.page = dict(info)
            start = info["index"] * info["size"]
            kids = sum(len(v) for v in (children or {}).values())
            shown = f"{start + 1}-{start + (matched or len(rows))}" if rows else "no runs"
            under = f" ({kids} child runs shown under their parents)" if kids else ""
            self.message = (
                f"{shown}" + (f" of {total}" if total is not None else "") + under + self._sort_note
                if rows
                else ("No runs match." if self.filter or self.quick else "No runs in these experiments yet.")
            )
            if done:
                self.revision += 1

    @observe(*QUERY_TRAITS)
    def _query_changed(self, change: dict[str, Any]) -> None:
        if self._loading:
            return
        if change["name"] == "experiment_ids":
            try:
                self.available = self._available(str(self.available.get("search", "")))
            except ScanflowError as exc:
                self.error = str(exc)
        self._load(0)

    # -- messages from the view -------------------------------------------------------------------
    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        event = content.get("event")
        try:
            if event == "next":
                self.next_page()
            elif event == "prev":
                self.prev_page()
            elif event == "refresh":
                self.refresh()
            elif event == "expand":
                run_id = str(content.get("run_id", ""))
                kids = self._store.children(run_id, self.columns)
                self.children = {**self.children, run_id: kids}
                self.revision += 1
            elif event == "collapse":
                self.children = {k: v for k, v in self.children.items() if k != content.get("run_id")}
            elif event == "open":
                self.open_run(str(content.get("run_id", "")))
            elif event == "compare":
                self.compare()
            elif event == "compare_steps":  # the step runs of workflow runs compared with nothing to show
                self.compare(list(self.compare_data.get("step_runs", [])))
            elif event == "charts":
                keys = [str(k) for k in content.get("keys", [])]
                ids = [r["run_id"] for r in self.compare_data.get("runs", [])]
                self.compare_data = self._comparison(ids, keys, full=bool(content.get("full")))
                self.revision += 1
            elif event == "preview":
                self.open_artifact(str(content.get("path", "")))
            elif event == "run_metrics":
                found = self._store.search_metrics(self.run["run_id"], str(content.get("search", "")))
                self.run = {**self.run, "metrics": found, "metrics_search": content.get("search", "")}
                self.revision += 1
            elif event == "columns":
                self.available = self._available(str(content.get("search", "")))
                self.revision += 1
            elif event == "download":
                name = f"runs-page-{self.page.get('index', 0) + 1}.csv"
                self.send({"event": "csv", "filename": name, "text": self.to_csv()})
            elif event == "back":
                self.mode = "table"
            else:
                log.warning("RunBrowser: unknown message from the view: %r", content)
        except ScanflowError as exc:
            self.error = str(exc)
            self.revision += 1

    # -- comparison -------------------------------------------------------------------------------
    def _comparison(self, ids: list[str], chart_keys: Sequence[str] | None, full: bool) -> dict[str, Any]:
        runs = [self._store.get_run(r) for r in ids]
        head = [{"run_id": r.info.run_id, "run_name": self._compare_name(r, runs)} for r in runs]

        def table(kind: str) -> tuple[list[dict[str, Any]], int]:
            keys = sorted({k for r in runs for k in getattr(r.data, kind)})
            out = []
            for key in keys[:MAX_COMPARE_KEYS]:
                values = [getattr(r.data, kind).get(key) for r in runs]
                clean = [_jsonable(v) for v in values]
                out.append({"key": key, "values": clean, "differs": len({json.dumps(v) for v in clean}) > 1})
            return out, len(keys)

        params, n_params = table("params")
        metrics, n_metrics = table("metrics")
        metric_keys = [m["key"] for m in metrics]
        if chart_keys is None:
            common = [k for k in metric_keys if all(k in r.data.metrics for r in runs)]
            chart_keys = (common or metric_keys)[:4]
        keys, chart_runs = list(chart_keys)[:MAX_CHART_KEYS], runs[:MAX_CHART_RUNS]
        series = sum(key in r.data.metrics for key in keys for r in chart_runs)
        # "Full resolution" is bounded too: a request of 20 runs x 8 keys of a million steps each would be 160
        # million points in the kernel and in one message to the browser.
        points = max(CHART_POINTS, MAX_CHART_POINTS // max(1, series)) if full else CHART_POINTS
        histories: dict[str, list[dict[str, Any]]] = {}
        for key in keys:
            histories[key] = [
                self._store.metric_history(r.info.run_id, key, points) for r in chart_runs if key in r.data.metrics
            ]
        notes = []
        if len(runs) > len(chart_runs) or len(chart_keys) > len(keys):
            notes.append(
                f"Charts show the first {len(chart_runs)} of {len(runs)} runs and {len(keys)} of "
                f"{len(chart_keys)} keys."
            )
        if full and any(h["downsampled"] for found in histories.values() for h in found):
            notes.append(
                f"Full resolution is capped at {MAX_CHART_POINTS:,} points a request ({len(chart_runs)} runs x "
                f"{len(keys)} keys): each history shows at most {points:,} points (the lowest and highest of each "
                "stretch kept); chart fewer runs or keys for more."
            )
        parallel = _parallel(runs, params, metrics)
        return {
            "runs": head,
            **self._empty_note(runs, n_params, n_metrics),
            "params": params,
            "params_total": n_params,
            "metrics": metrics,
            "metrics_total": n_metrics,
            "chart_keys": keys,
            "histories": histories,
            "full": full,
            "chart_note": " ".join(notes),
            "parallel": parallel,
        }

    def _compare_name(self, run: Any, runs: list[Any]) -> str:
        """A run's name in a comparison: with its parent's when another run compared has the same name (the step
        runs of two workflow runs are all "train")."""
        name = str(run.info.run_name or run.info.run_id[:8])
        parent = run.data.tags.get("mlflow.parentRunId")
        if not parent or sum(1 for r in runs if r.info.run_name == run.info.run_name) < 2:
            return name
        try:
            above = self._store.get_run(parent)
        except ScanflowError:
            return name
        return f"{above.info.run_name or parent[:8]} / {name}"

    def _empty_note(self, runs: list[Any], n_params: int, n_metrics: int) -> dict[str, Any]:
        """Why a comparison of runs with no params and no metrics is empty (workflow runs keep theirs on their
        step runs), and those step runs, to compare instead."""
        if n_params or n_metrics:
            return {"empty_note": "", "step_runs": []}
        steps: list[str] = []
        for run in runs:
            steps += [c["run_id"] for c in self._store.children(run.info.run_id)]
        if not steps:
            return {"empty_note": "These runs logged no params and no metrics.", "step_runs": []}
        return {
            "empty_note": (
                "These runs logged no params and no metrics: they are workflow runs, and each step logs its own "
                f"on its step run. Compare their {len(steps)} step runs instead."
            ),
            "step_runs": steps[:MAX_COMPARE],
        }

    # -- a run's workflow graph -------------------------------------------------------------------
    def _set_graph(self, view: GraphView | None) -> None:
        old = self.graph
        self.graph = view
        if old is not None and old is not view:
            old.close()

    def _graph_for(self, detail: dict[str, Any]) -> GraphView | None:
        tags = detail["tags"]
        run_id = tags.get("scanflow.run_id")
        if not run_id or not tags.get("scanflow.workflow"):
            return None
        parent = detail
        for _ in range(8):  # a step run -> its nested workflow runs -> the workflow run
            if parent["tags"].get("scanflow.kind") == "run":
                break
            up = parent["tags"].get("mlflow.parentRunId")
            if not up:
                return None
            run = self._store.get_run(up)
            parent = {"run_id": up, "tags": run.data.tags, "status": run.info.status}
        try:
            return self._graph_view(parent, tags["scanflow.workflow"], tags.get("scanflow.app", ""), detail)
        except (ScanflowError, OSError, ValueError, KeyError) as exc:
            self.message = f"No graph for this run: {exc}"
            return None

    def _graph_view(self, parent: dict[str, Any], workflow: str, app_name: str, detail: dict[str, Any]) -> GraphView:
        app = self._app
        if app is None or app.name != app_name or workflow not in [w.name for w in app.workflows]:
            with tempfile.TemporaryDirectory(prefix="scanflow-graph-") as tmp:
                path = self._store.client.download_artifacts(parent["run_id"], "scanflow/graph.json", tmp)
                graph = json.loads(Path(path).read_text(encoding="utf-8"))
            app = application_from_graph(app_name, graph)
        view = GraphView(app, workflow, follow_all=False, height="320px")
        experiment = detail["experiment_id"]
        steps = self._store.search(
            RunQuery(
                experiment_ids=(experiment,),
                filter=f"tags.\"scanflow.run_id\" = '{parent['tags']['scanflow.run_id']}' AND "
                "tags.\"scanflow.kind\" = 'step'",
                order_by=("attributes.start_time ASC",),
                page_size=MAX_PAGE,
            )
        ).rows
        leaves = set(view.info)
        states, info = dict(view.states), {k: dict(v) for k, v in view.info.items()}
        for row in steps:
            address = row["node"]
            if address not in leaves:
                continue
            state = row["state"] or STEP_STATES.get(row["status"], "failed")
            states[address] = state
            entry = info[address]
            entry["state"] = state
            entry["mlflow_run_id"] = row["run_id"]
            entry["mlflow_url"] = mlflow_url(self.ui_url, experiment, row["run_id"])
            entry["mlflow_store"] = mlflow_store(self._store.uri)
            entry["mlflow_experiment_id"] = experiment
            entry["metrics"] = step_metrics(self._store.uri, row["run_id"])
            if row["start_time"] and row["end_time"]:
                entry["duration"] = round((row["end_time"] - row["start_time"]) / 1000, 3)
        view.info = info
        view.states = states
        view.run_status = STEP_STATES.get(str(parent.get("status")), "")
        view.message = f"workflow run {parent['tags']['scanflow.run_id']}"
        if detail["tags"].get("scanflow.node"):
            view.selected = detail["tags"]["scanflow.node"] if detail["tags"]["scanflow.node"] in leaves else ""
        return view

    # -- display ----------------------------------------------------------------------------------
    def close(self) -> None:
        if hasattr(self, "_store"):  # not when the store could not be opened (close runs from __del__ too)
            self._set_graph(None)
            self._store.close()
        super().close()

    def _text(self) -> str:
        lines = [f"RunBrowser({redact(self._store.uri)}): {self.message}"]
        if self.error:
            lines.append(f"error: {self.error}")
        for row in self.rows[:20]:
            values = "  ".join(f"{k}={v}" for k, v in row["values"].items())
            lines.append(f"  {row['run_id'][:8]}  {row['run_name'][:24]:<24} {row['status']:<9} {values}".rstrip())
        return "\n".join(lines)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = self._text()
        return data

    def __repr__(self) -> str:
        page = self.page.get("index", 0) + 1
        return f"RunBrowser(uri={redact(self._store.uri)!r}, rows={len(self.rows)}, page={page})"


def _seconds(value: Any, what: str, end_of_day: bool = False) -> float | None:
    """An ISO date or date-time (or epoch seconds) as epoch seconds; '' or None is None."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    from datetime import UTC, datetime, timedelta

    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise RunQueryError(
            f"Quick filter {what}={value!r} is not a date: write it as 2026-11-23 or 2026-11-23T14:00."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if end_of_day and len(str(value)) <= 10:
        when += timedelta(days=1) - timedelta(milliseconds=1)
    return when.timestamp()


def _parallel(runs: list[Any], params: list[dict[str, Any]], metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """The parallel-coordinates data of a comparison: an axis per param that differs (numeric, or its values as
    categories), then per metric (those that differ first); a note says why there is nothing to draw.

    An axis where every run has the same value says nothing, and a chart of metrics only looked broken (no param
    axes, one loss axis from 0.1695 to 0.1695; issue 19): params that differ come first, categorical ones too, and
    metrics that are the same for every run are left out."""
    differ = [p for p in params if p["differs"]]
    numeric = {p["key"] for p in differ if all(_is_number(v) for v in p["values"] if v is not None)}
    categories: dict[str, list[str]] = {}
    for p in differ:
        if p["key"] not in numeric:
            categories[f"params.{p['key']}"] = sorted({str(v) for v in p["values"] if v is not None})
    varied = [m for m in metrics if m["differs"]]
    by_presence = sorted(varied, key=lambda m: -sum(v is not None for v in m["values"]))
    # Numeric params first (the axes a person reads values on), then the categorical ones.
    ordered = [p for p in differ if p["key"] in numeric] + [p for p in differ if p["key"] not in numeric]
    axes = [f"params.{p['key']}" for p in ordered[:6]] + [f"metrics.{m['key']}" for m in by_presence[:6]]
    out = []
    for r in runs:
        values: list[float | None] = []
        for axis in axes:
            kind, _, key = axis.partition(".")
            raw = (r.data.params if kind == "params" else r.data.metrics).get(key)
            if raw is None:
                values.append(None)
            elif axis in categories:
                values.append(float(categories[axis].index(str(raw))))
            else:
                number = float(raw) if _is_number(raw) else float("nan")
                values.append(number if _finite(number) else None)
        out.append({"run_id": r.info.run_id, "values": values})
    if not axes:
        note = (
            "Parallel coordinates: these runs have the same params and the same metrics, so there is no axis to draw."
        )
    elif not differ:
        same = ", ".join(p["key"] for p in params[:6]) + (" …" if len(params) > 6 else "")
        note = (
            f"No param differs between these runs ({same}): the axes are the metrics that differ."
            if params
            else "These runs logged no params: the axes are the metrics that differ."
        )
    else:
        note = ""
    return {"axes": axes, "runs": out, "categories": categories, "note": note}


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except (TypeError, ValueError):
        return False
    return True


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not _finite(value):
        return str(value)
    return value
