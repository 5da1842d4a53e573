"""How fast the run browser pages through 10,000 and 100,000 runs, against MLflow's own search.

For each store size it prints medians of: the first page of 100 rows with a metric filter and a metric sort
(``RunStore.search``, what the RunBrowser calls), the next page (its page token), and, measured in the same
run on the same store and query, ``MlflowClient.search_runs`` and ``mlflow.search_runs``; then the peak
memory (RSS) of a fresh Python process that opens a ``RunBrowser`` on the store and pages through 20 pages
(the kernel's cost: it should not grow with the store).

Stores are cached under ``$TMPDIR/scanflow-bench-runs/<size>/`` (building them takes minutes). The first
2,000 runs are written through MLflow's API (``create_run`` + one ``log_batch`` of 5 params and 5 metrics +
``set_terminated``); the rest are copies of those made in SQL with fresh run ids and new random metric
values (writing 100,000 runs through the API takes about 25 minutes here). Targets: first page at most 0.5 s
at 100,000 runs, at least 5x faster than ``MlflowClient.search_runs``, memory flat in the number of runs.

Run: ``python benchmarks/run_browser.py`` (``--quick``: 10,000 runs only, fewer repeats).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE_RUNS = 2000
FILTER = "metrics.m0 > 0.5"
ORDER = ["metrics.m1 DESC"]
EXPERIMENT = "bench"


def cache_dir(size: int) -> Path:
    return Path(tempfile.gettempdir()) / "scanflow-bench-runs" / str(size)


def build(size: int) -> str:
    """The store of ``size`` runs (cached); returns its URI."""
    folder = cache_dir(size)
    db = folder / "mlflow.db"
    done = folder / "complete"
    uri = f"sqlite:///{db}"
    if done.exists():
        return uri
    folder.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    client = MlflowClient(uri)
    exp = client.create_experiment(EXPERIMENT, artifact_location=(folder / "artifacts").as_uri())
    rng = random.Random(size)
    now = int(time.time() * 1000)
    template = min(size, TEMPLATE_RUNS)
    started = time.perf_counter()
    for i in range(template):
        run = client.create_run(exp, run_name=f"run-{i}", start_time=now - i * 1000)
        client.log_batch(
            run.info.run_id,
            params=[Param(f"p{j}", str(rng.randint(0, 9))) for j in range(5)],
            metrics=[Metric(f"m{j}", rng.random(), now, 0) for j in range(5)],
        )
        client.set_terminated(run.info.run_id, "FAILED" if i % 7 == 0 else "FINISHED")
    print(f"  wrote {template} runs through MLflow in {time.perf_counter() - started:.0f} s", flush=True)
    with sqlite3.connect(db) as conn:
        copies = (size - template + template - 1) // template
        for k in range(copies):
            want = min(template, size - template * (k + 1))
            conn.execute("DROP TABLE IF EXISTS idmap")
            conn.execute(
                "CREATE TEMP TABLE idmap AS SELECT run_uuid AS old, lower(hex(randomblob(16))) AS new FROM "
                f"(SELECT run_uuid FROM runs WHERE name NOT LIKE '%-c%' ORDER BY run_uuid LIMIT {want})"
            )
            for table in ("runs", "params", "tags", "metrics"):
                cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
                picks = []
                for c in cols:
                    if c == "run_uuid":
                        picks.append("m.new")
                    elif table == "metrics" and c == "value":
                        picks.append("(abs(random()) % 1000000) / 1000000.0")
                    elif table == "runs" and c == "name":
                        picks.append(f"t.name || '-c{k}'")
                    elif table == "runs" and c in ("start_time", "end_time"):
                        picks.append(f"t.{c} - {(k + 1) * template * 1000}")
                    else:
                        picks.append(f"t.{c}")
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(picks)} FROM {table} t "
                    "JOIN idmap m ON t.run_uuid = m.old"
                )
            cols = [r[1] for r in conn.execute("PRAGMA table_info(latest_metrics)")]
            conn.execute(
                f"INSERT INTO latest_metrics ({', '.join(cols)}) SELECT {', '.join(cols)} FROM metrics "
                "WHERE run_uuid IN (SELECT new FROM idmap)"
            )
            conn.commit()
        conn.execute("ANALYZE")
        (count,) = conn.execute("SELECT COUNT(*) FROM runs").fetchone()
    assert count == size, (count, size)
    done.write_text("ok")
    print(f"  built {size} runs in {time.perf_counter() - started:.0f} s ({folder})", flush=True)
    return uri


def median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_memory(uri: str, pages: int = 20) -> float:
    """Peak RSS (MiB) of a process that opens a RunBrowser and reads ``pages`` pages."""
    code = f"""
import resource
from scanflow_jupyter.notebook import RunBrowser
b = RunBrowser({uri!r}, experiments=[{EXPERIMENT!r}], filter={FILTER!r}, order_by={ORDER!r},
               columns=["metrics.m0", "metrics.m1", "params.p0"], page_size=100, tree=False)
for _ in range({pages - 1}):
    b.next_page()
assert b.page["index"] == {pages - 1}
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure(size: int, repeats: int, baseline_repeats: int) -> dict[str, float]:
    import mlflow
    from mlflow.tracking import MlflowClient

    from scanflow_jupyter.tracking import RunQuery, RunStore

    uri = build(size)
    store = RunStore(uri)
    exp = store.experiment_id(EXPERIMENT)
    assert exp is not None and store.backend == "sql"
    query = RunQuery(
        experiment_ids=(exp,), filter=FILTER, order_by=tuple(ORDER), columns=("metrics.m0", "metrics.m1", "params.p0")
    )
    first = store.search(query)
    token = first.next_page_token
    client = MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    reference = client.search_runs([exp], FILTER, max_results=100, order_by=ORDER)
    assert [r["run_id"] for r in first.rows] == [r.info.run_id for r in reference], "pages differ from MLflow's"
    out = {
        "first": median_time(lambda: store.search(query), repeats),
        "next": median_time(lambda: store.search(query, token), repeats),
        "count": median_time(lambda: store.count(query), repeats),
        "client": median_time(
            lambda: client.search_runs([exp], FILTER, max_results=100, order_by=ORDER), baseline_repeats
        ),
        "fluent": median_time(
            lambda: mlflow.search_runs([exp], FILTER, max_results=100, order_by=ORDER), baseline_repeats
        ),
        "memory": peak_memory(uri),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs only, fewer repeats")
    parser.add_argument("--sizes", type=int, nargs="*", help="store sizes (default: 10000 100000)")
    args = parser.parse_args()
    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000])
    repeats, baseline_repeats = (3, 1) if args.quick else (7, 3)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    print(f"query: filter {FILTER!r}, order by {ORDER}, 100 rows; medians of {repeats} (MLflow: {baseline_repeats})")
    results = {}
    for size in sizes:
        print(f"{size} runs:", flush=True)
        r = measure(size, repeats, baseline_repeats)
        results[size] = r
        print(
            f"  first page {r['first'] * 1000:.0f} ms, next page {r['next'] * 1000:.0f} ms, "
            f"count {r['count'] * 1000:.0f} ms\n"
            f"  MlflowClient.search_runs {r['client'] * 1000:.0f} ms ({r['client'] / r['first']:.1f}x slower), "
            f"mlflow.search_runs {r['fluent'] * 1000:.0f} ms ({r['fluent'] / r['first']:.1f}x slower)\n"
            f"  peak memory of a process paging 20 pages through a RunBrowser: {r['memory']:.0f} MiB",
            flush=True,
        )
    print(json.dumps({str(k): {n: round(v, 4) for n, v in r.items()} for k, r in results.items()}))


if __name__ == "__main__":
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    main()
