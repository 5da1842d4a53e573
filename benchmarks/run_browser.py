"""How fast the run browser pages through 10,000 and 100,000 runs, against MLflow's own search.

For each store size it prints medians of: the first page of 100 rows with a metric filter and a metric sort
(``RunStore.search``, what the RunBrowser calls), the next page (its page token), and, measured in the same
run on the same store and query, ``MlflowClient.search_runs`` and ``mlflow.search_runs``; then the peak
memory (RSS) of a fresh Python process that opens a ``RunBrowser`` on the store and pages through 20 pages
(the kernel's cost: it should not grow with the store).

Stores are cached under ``$TMPDIR/scanflow-bench-runs/<size>/`` (building them takes minutes). The first
2,000 runs are written through MLflow's API (``create_run`` + one ``log_batch`` of 5 params and 5 metrics +
``set_terminated``); the rest are copies of those made in SQL with fresh run ids and new random metric
values (writing 100,000 runs through the API takes about 25 minutes here). The store is left as MLflow leaves
it: no ``ANALYZE`` statistics (MLflow never gathers them; with them SQLite plans MLflow's own metric sort very
differently, so they would not measure what users get).

Each run first measures ``MlflowClient.search_runs`` once on the store exactly as MLflow made it (without the
run browser's sort index, dropped if an earlier run made it), then opens a ``RunStore``, which creates the
sort index (timed), then measures everything else on that same store. It also measures the browser's first
page without the index (the plan used on a store it cannot write). Targets: first page at most 0.5 s at
100,000 runs, at least 5x faster than ``MlflowClient.search_runs``, memory flat in the number of runs.

Run: ``python benchmarks/run_browser.py`` (``--quick``: 10,000 runs only, fewer repeats).
"""

from __future__ import annotations

import argparse
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

    folder = cache_dir(size)
    db = folder / "mlflow.db"
    done = folder / "complete"
    uri = f"sqlite:///{db}"
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


def fresh_process(uri: str, pages: int = 20) -> tuple[float, float]:
    """A fresh process that opens a RunBrowser and reads ``pages`` pages: its peak RSS (MiB) and the time
    the RunBrowser took to show its first page (imports of MLflow and the widgets included)."""
    code = f"""
import resource, time
started = time.perf_counter()
from scanflow_jupyter.notebook import RunBrowser
b = RunBrowser({uri!r}, experiments=[{EXPERIMENT!r}], filter={FILTER!r}, order_by={ORDER!r},
               columns=["metrics.m0", "metrics.m1", "params.p0"], page_size=100, tree=False)
shown = time.perf_counter() - started
for _ in range({pages - 1}):
    b.next_page()
assert b.page["index"] == {pages - 1}
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, shown)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    memory, shown = out.stdout.strip().splitlines()[-1].split()
    return float(memory), float(shown)


def measure(size: int, repeats: int, baseline_repeats: int, plain: bool = True) -> dict[str, float]:
    import mlflow
    from mlflow.tracking import MlflowClient

    from scanflow_jupyter.tracking import RunQuery, RunStore
    from scanflow_jupyter.tracking.sqlquery import SORT_INDEX

    uri = build(size)
    db = uri[len("sqlite:///") :]
    with sqlite3.connect(db) as conn:  # the store as MLflow made it
        conn.execute(f"DROP INDEX IF EXISTS {SORT_INDEX}")
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    exp = experiment.experiment_id
    mlflow_store = (
        median_time(lambda: client.search_runs([exp], FILTER, max_results=100, order_by=ORDER), 1)
        if plain
        else math.nan
    )
    started = time.perf_counter()
    store = RunStore(uri)  # creates the sort index
    opened = time.perf_counter() - started
    assert store.backend == "sql" and store._sql is not None and store._sql.sort_index
    query = RunQuery(
        experiment_ids=(exp,), filter=FILTER, order_by=tuple(ORDER), columns=("metrics.m0", "metrics.m1", "params.p0")
    )
    first = store.search(query)
    token = first.next_page_token
    mlflow.set_tracking_uri(uri)
    reference = client.search_runs([exp], FILTER, max_results=200, order_by=ORDER)
    second = store.search(query, token)
    assert [r["run_id"] for r in first.rows + second.rows] == [r.info.run_id for r in reference], (
        "pages differ from MLflow's"
    )
    out = {
        "first": median_time(lambda: store.search(query), repeats),
        "next": median_time(lambda: store.search(query, token), repeats),
        "count": median_time(lambda: store.count(query), repeats),
        "open": opened,
        "client": median_time(
            lambda: client.search_runs([exp], FILTER, max_results=100, order_by=ORDER), baseline_repeats
        ),
        "fluent": median_time(
            lambda: mlflow.search_runs([exp], FILTER, max_results=100, order_by=ORDER), baseline_repeats
        ),
        "client_plain": mlflow_store,
    }
    store._sql.sort_index = False  # the plan without the index (a store the browser cannot write)
    assert [r["run_id"] for r in store.search(query).rows] == [r["run_id"] for r in first.rows]
    out["first_unindexed"] = median_time(lambda: store.search(query), repeats)
    out["memory"], out["shown"] = fresh_process(uri)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs only, fewer repeats")
    parser.add_argument("--sizes", type=int, nargs="*", help="store sizes (default: 10000 100000)")
    parser.add_argument(
        "--skip-plain-mlflow",
        action="store_true",
        help="skip the MlflowClient call on the store without the sort index (it takes minutes at 100,000 runs)",
    )
    parser.add_argument(
        "--mlflow-repeats",
        type=int,
        help="calls of each MLflow search to take the median of (default 3; 1 with "
        "--quick); at 100,000 runs one MlflowClient.search_runs takes minutes",
    )
    parser.add_argument("--build-only", action="store_true", help="build (or finish) the cached stores and stop")
    args = parser.parse_args()
    sizes = args.sizes or ([10_000] if args.quick else list(SIZES))
    if args.build_only:
        for size in sizes:
            print(f"{size} runs: {build(size)}", flush=True)
        return
    repeats, baseline_repeats = (3, 1) if args.quick else (7, 3)
    baseline_repeats = args.mlflow_repeats or baseline_repeats
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    print(f"query: filter {FILTER!r}, order by {ORDER}, 100 rows; medians of {repeats} (MLflow: {baseline_repeats})")
    results = {}
    for size in sizes:
        print(f"{size} runs:", flush=True)
        r = measure(size, repeats, baseline_repeats, plain=not args.skip_plain_mlflow)
        results[size] = r
        print(
            "  MlflowClient.search_runs on the store as MLflow made it: "
            + ("skipped\n" if math.isnan(r["client_plain"]) else f"{r['client_plain'] * 1000:.0f} ms (1 call)\n")
            + f"  RunStore opened, sort index created: {r['open'] * 1000:.0f} ms (once per store)\n"
            f"  first page {r['first'] * 1000:.0f} ms, next page {r['next'] * 1000:.0f} ms, "
            f"count {r['count'] * 1000:.0f} ms; "
            f"first page without the sort index {r['first_unindexed'] * 1000:.0f} ms\n"
            f"  MlflowClient.search_runs {r['client'] * 1000:.0f} ms ({r['client'] / r['first']:.1f}x slower), "
            f"mlflow.search_runs {r['fluent'] * 1000:.0f} ms ({r['fluent'] / r['first']:.1f}x slower)\n"
            f"  fresh process: RunBrowser shown in {r['shown']:.2f} s (imports included); peak memory after "
            f"paging 20 pages: {r['memory']:.0f} MiB",
            flush=True,
        )
    print(json.dumps({str(k): {n: round(v, 4) for n, v in r.items()} for k, r in results.items()}))


if __name__ == "__main__":
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    main()
