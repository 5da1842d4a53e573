"""How fast the run browser pages through 10,000 and 100,000 runs, against MLflow's own search.

For each store size it prints medians of: the first page of 100 rows with a metric filter and a metric sort
(``RunStore.search``, what the RunBrowser calls), the next page (its page token), and, measured in the same
run on the same store and query, ``MlflowClient.search_runs`` and ``mlflow.search_runs``, with the ratios;
the same for a few other shapes of query (the default view, a filter without a sort, a selective filter);
and the memory of a fresh Python process that opens a ``RunBrowser`` on the store and pages through 20
pages: its RSS once everything is imported, and its peak (the kernel's cost: it must not grow with the store).

Stores are cached under ``$TMPDIR/scanflow-bench-runs/<size>/`` (``--build-only`` builds them and stops).
Every run is written through MLflow's API, as a training script would: ``create_run``, one ``log_batch`` of
5 params and 5 metrics, ``set_terminated`` (about 40 minutes for 100,000 runs on 2 busy cores; the
100,000-run store starts as a copy of the 10,000-run one). The store is left as MLflow leaves it: no
``ANALYZE`` statistics (MLflow never gathers them, and SQLite plans MLflow's metric sort differently with
them, so they would not measure what users get).

MLflow's searches run first, on the store exactly as MLflow made it (without the run browser's sort index,
dropped if an earlier run made it); then a ``RunStore`` is opened, which creates the sort index (timed), and
the browser's queries run on that same store. The browser's first page without the index is measured too (the
plan used on a store it cannot write). Every page is checked against MLflow's answer for the same query.
Targets: first page at most 0.5 s at 100,000 runs, at least 5x faster than ``MlflowClient.search_runs``, memory
flat in the number of runs.

Run: ``python benchmarks/run_browser.py`` (``--quick``: 10,000 runs only, fewer repeats). At 100,000 runs one
MLflow search with a metric sort takes minutes here, so MLflow's medians there are of ``--mlflow-repeats``
calls (default 1 at 100,000 runs, 3 below).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FILTER = "metrics.m0 > 0.5"
ORDER = ["metrics.m1 DESC"]
EXPERIMENT = "bench"
SIZES = (10_000, 100_000)
BASE_TIME = 1_750_000_000_000  # start time of run 0 (ms); run i starts i seconds earlier


def cache_dir(size: int) -> Path:
    return Path(tempfile.gettempdir()) / "scanflow-bench-runs" / str(size)


def build(size: int) -> str:
    """The store of ``size`` runs (cached, resumable); returns its URI.

    Every run is written through MLflow's API, as a logging script would: ``create_run``, one ``log_batch``
    of 5 params and 5 metrics, ``set_terminated``. Run ``i`` gets the same name, start time and values in
    every store, so a bigger store starts as a copy of a smaller complete one and adds the runs it lacks.
    While building, SQLite is told not to wait for each commit to reach the disk (``synchronous=OFF``):
    that only matters after a power cut, and the rows are those MLflow writes either way.
    """
    import sqlalchemy
    from sqlalchemy.engine import Engine

    from scanflow_jupyter.tracking.store import sqlite_uri

    folder = cache_dir(size)
    db = folder / "mlflow.db"
    done = folder / "complete"
    uri = sqlite_uri(db)
    if done.exists():
        return uri
    folder.mkdir(parents=True, exist_ok=True)
    if not db.exists():
        smaller = [n for n in SIZES if n < size and (cache_dir(n) / "complete").exists()]
        if smaller:
            with sqlite3.connect(cache_dir(max(smaller)) / "mlflow.db") as src, sqlite3.connect(db) as dst:
                src.backup(dst)
            print(f"  started from the {max(smaller)}-run store", flush=True)

    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    def no_sync(dbapi_conn: object, _record: object) -> None:
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.execute("PRAGMA synchronous=OFF")

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    sqlalchemy.event.listen(Engine, "connect", no_sync)
    try:
        client = MlflowClient(uri)
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        experiment = client.get_experiment_by_name(EXPERIMENT)
        exp = (
            experiment.experiment_id
            if experiment
            else client.create_experiment(EXPERIMENT, artifact_location=(folder / "artifacts").as_uri())
        )
        with sqlite3.connect(db) as conn:  # a run cut short by an interrupted build: written again
            for (run_id,) in conn.execute("SELECT run_uuid FROM runs WHERE status = 'RUNNING'").fetchall():
                for table in ("latest_metrics", "metrics", "params", "tags", "runs"):
                    conn.execute(f"DELETE FROM {table} WHERE run_uuid = ?", (run_id,))
            (have,) = conn.execute("SELECT COUNT(*) FROM runs").fetchone()
        started = time.perf_counter()
        for i in range(have, size):
            rng = random.Random(i)
            start = BASE_TIME - i * 1000
            run = client.create_run(exp, run_name=f"run-{i}", start_time=start)
            client.log_batch(
                run.info.run_id,
                params=[Param(f"p{j}", str(rng.randint(0, 9))) for j in range(5)],
                metrics=[Metric(f"m{j}", rng.random(), start, 0) for j in range(5)],
            )
            client.set_terminated(run.info.run_id, "FAILED" if i % 7 == 0 else "FINISHED", end_time=start + 500)
            if (i + 1) % 10_000 == 0:
                rate = (i + 1 - have) / (time.perf_counter() - started)
                print(f"  {i + 1} runs written ({rate:.0f} runs/s)", flush=True)
    finally:
        sqlalchemy.event.remove(Engine, "connect", no_sync)
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM runs").fetchone()
    assert count == size, (count, size)
    done.write_text("ok")
    print(f"  wrote {size - have} runs through MLflow in {time.perf_counter() - started:.0f} s ({folder})", flush=True)
    return uri


def median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fresh_process(uri: str, pages: int = 20) -> dict[str, float]:
    """A fresh process that opens a RunBrowser and reads ``pages`` pages: its RSS once MLflow and the widgets
    are imported, after the first page, after the last, and at its peak (MiB); the time the RunBrowser takes
    to open (experiments, column list, first page and count)."""
    code = f"""
import os, time
from scanflow_jupyter.notebook import RunBrowser
import mlflow.store.tracking.sqlalchemy_store, sqlalchemy, pandas
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
imported = rss()
started = time.perf_counter()
b = RunBrowser({uri!r}, experiments=[{EXPERIMENT!r}], filter={FILTER!r}, order_by={ORDER!r},
               columns=["metrics.m0", "metrics.m1", "params.p0"], page_size=100, tree=False)
opened = time.perf_counter() - started
first = rss()
for _ in range({pages - 1}):
    b.next_page()
assert b.page["index"] == {pages - 1} and len(b.rows) == 100
with open("/proc/self/status") as fh:  # VmHWM: this process's peak; ru_maxrss would count the parent's too
    peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
print(imported, first, rss(), peak, opened)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names = ["rss_imported", "rss_first", "rss_last", "rss_peak", "browser_open"]
    return dict(zip(names, map(float, out.stdout.strip().splitlines()[-1].split()), strict=True))


# Other shapes of query: (label, filter, order, whether MLflow's search for it is timed). MLflow's metric sort
# is quadratic on SQLite (minutes at 100,000 runs), so it is timed for the main query only; its answers to
# the others are still fetched once, to check the browser's (quick when the filter is selective).
SHAPES = [
    ("default view: no filter, newest first", "", [], True),
    ("metric filter, newest first", FILTER, [], True),
    ("selective metric filter (0.1%), metric sort", "metrics.m0 > 0.999", ORDER, False),
    ("3 param filters (0.1%), metric sort", "params.p0 = '3' AND params.p1 = '4' AND params.p2 = '5'", ORDER, False),
    ("metric filter OR param filter, metric sort", f"{FILTER} OR params.p0 = '1'", ORDER, False),
]


def first_pages(db: Path, rows: int) -> list[str]:
    """The first ``rows`` run ids of the benchmark's query, sorted in Python from the raw table rows: runs with
    ``m0 > 0.5`` by ``m1`` descending, then (MLflow's tie-break) newest first, then by run id. A reference that
    shares no code with the browser's SQL (and MLflow's second page at 100,000 runs would take minutes)."""
    from scanflow_jupyter.tracking.store import sqlite_file_uri

    assert FILTER == "metrics.m0 > 0.5" and ORDER == ["metrics.m1 DESC"]
    with sqlite3.connect(sqlite_file_uri(db, mode="ro"), uri=True) as conn:
        m0 = dict(conn.execute("SELECT run_uuid, value FROM latest_metrics WHERE key = 'm0' AND is_nan = 0"))
        m1 = dict(conn.execute("SELECT run_uuid, value FROM latest_metrics WHERE key = 'm1' AND is_nan = 0"))
        runs = conn.execute("SELECT run_uuid, start_time FROM runs WHERE lifecycle_stage = 'active'").fetchall()
    assert len(m1) == len(runs), "every run has m1 (no NaN, none missing): no ranks to mirror"
    matching = [(-m1[run], -start, run) for run, start in runs if m0.get(run, 0.0) > 0.5]
    return [run for _, _, run in sorted(matching)[:rows]]


def measure(size: int, repeats: int, mlflow_repeats: int) -> dict[str, Any]:
    import mlflow
    from mlflow.tracking import MlflowClient

    from scanflow_jupyter.tracking import RunQuery, RunStore
    from scanflow_jupyter.tracking.sqlquery import SORT_INDEXES
    from scanflow_jupyter.tracking.store import sqlite_path

    uri = build(size)
    db = sqlite_path(uri)
    assert db is not None
    with sqlite3.connect(db) as conn:  # the store as MLflow made it
        for index in SORT_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {index}")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    client = MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    exp = experiment.experiment_id

    def mlflow_ids(text: str, order: list[str], n: int = 100) -> list[str]:
        return [r.info.run_id for r in client.search_runs([exp], text, max_results=n, order_by=order)]

    answers: list[list[str]] = []
    out: dict[str, Any] = {
        "client": median_time(lambda: answers.append(mlflow_ids(FILTER, ORDER)), mlflow_repeats),
        "fluent": median_time(
            lambda: mlflow.search_runs([exp], FILTER, max_results=100, order_by=ORDER), mlflow_repeats
        ),
    }
    reference = first_pages(db, 200)
    assert answers[-1] == reference[:100], "MLflow's first page differs from the order computed in Python"
    shapes: dict[str, dict[str, float]] = {}
    expected: dict[str, list[str]] = {}
    for label, text, order, timed in SHAPES:
        search = functools.partial(mlflow_ids, text, order)
        shapes[label] = {"client": median_time(search, mlflow_repeats) if timed else math.nan}
        if " OR " not in text:  # MLflow has no OR (the tests compare OR filters with merged searches)
            expected[label] = search()

    started = time.perf_counter()
    store = RunStore(uri)  # creates the sort index
    out["open"] = time.perf_counter() - started
    assert store.backend == "sql" and store._sql is not None and store._sql.sort_index
    columns = ("metrics.m0", "metrics.m1", "params.p0")
    query = RunQuery(experiment_ids=(exp,), filter=FILTER, order_by=tuple(ORDER), columns=columns)
    first = store.search(query)
    token = first.next_page_token
    second = store.search(query, token)
    assert [r["run_id"] for r in first.rows + second.rows] == reference, "the first two pages are wrong"
    out["first"] = median_time(lambda: store.search(query), repeats)
    out["next"] = median_time(lambda: store.search(query, token), repeats)
    out["count"] = median_time(lambda: store.count(query), repeats)
    for label, text, order, _ in SHAPES:
        shape = RunQuery(experiment_ids=(exp,), filter=text, order_by=tuple(order), columns=columns)
        if label in expected:
            assert [r["run_id"] for r in store.search(shape).rows] == expected[label], label
        shapes[label]["first"] = median_time(functools.partial(store.search, shape), repeats)
    out["shapes"] = shapes
    store._sql.sort_index = False  # the plan without the index (a store the browser cannot write)
    assert [r["run_id"] for r in store.search(query).rows] == reference[:100]
    out["first_unindexed"] = median_time(lambda: store.search(query), repeats)
    out.update(fresh_process(uri))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs only, fewer repeats")
    parser.add_argument("--sizes", type=int, nargs="*", help="store sizes (default: 10000 100000)")
    parser.add_argument(
        "--mlflow-repeats",
        type=int,
        help="calls of each MLflow search to take the median of (default: 3 below 100,000 runs, 1 from there "
        "and with --quick); at 100,000 runs one MlflowClient.search_runs with a metric sort takes minutes",
    )
    parser.add_argument("--build-only", action="store_true", help="build (or finish) the cached stores and stop")
    args = parser.parse_args()
    sizes = args.sizes or ([10_000] if args.quick else list(SIZES))
    if args.build_only:
        for size in sizes:
            print(f"{size} runs: {build(size)}", flush=True)
        return
    repeats = 3 if args.quick else 7
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    print(f"query: filter {FILTER!r}, order by {ORDER}, 100 rows; medians of {repeats} (MLflow: see each size)")
    results = {}
    for size in sizes:
        mlflow_repeats = args.mlflow_repeats or (1 if args.quick or size >= 100_000 else 3)
        print(f"{size} runs (MLflow searches: median of {mlflow_repeats}):", flush=True)
        r = measure(size, repeats, mlflow_repeats)
        results[size] = r
        print(
            f"  RunStore opened, sort index created: {r['open'] * 1000:.0f} ms (once per store)\n"
            f"  first page {ms(r['first'])}, next page {ms(r['next'])}, count {ms(r['count'])}; "
            f"first page without the sort index {ms(r['first_unindexed'])}\n"
            f"  MlflowClient.search_runs {ms(r['client'])} ({r['client'] / r['first']:.0f}x the first page), "
            f"mlflow.search_runs {ms(r['fluent'])} ({r['fluent'] / r['first']:.0f}x)\n"
            f"  fresh process: RunBrowser(...) opens in {ms(r['browser_open'])} (experiments, columns, first page, "
            f"count); RSS {r['rss_imported']:.0f} MiB once imported, {r['rss_first']:.0f} MiB at the first page, "
            f"{r['rss_last']:.0f} MiB at the 20th, peak {r['rss_peak']:.0f} MiB",
            flush=True,
        )
        for label, shape in r["shapes"].items():
            mlflow_part = (
                f", MlflowClient.search_runs {ms(shape['client'])} ({shape['client'] / shape['first']:.1f}x)"
                if not math.isnan(shape["client"])
                else ""
            )
            print(f"  {label}: first page {ms(shape['first'])}{mlflow_part}", flush=True)
    print(json.dumps({str(k): r for k, r in results.items()}, default=str).replace("NaN", "null"))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.0f} s"


if __name__ == "__main__":
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    main()
