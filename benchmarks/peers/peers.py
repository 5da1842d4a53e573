"""scanflow against Metaflow, whole processes started from a shell, side by side in one run.

Workloads, every step a no-op: a chain of 10 steps, a 1 -> 20 -> 1 -> 1 fan with 2 workers, a chain of 100 steps.
Each is timed as ``scanflow run`` (tracked in MLflow, the default), ``scanflow run --no-tracking`` and Metaflow's
``python flow.py run`` (Metaflow 2.19, local datastore, in a venv of its own), alternating, ``--repeats`` times;
the figures are medians with the min-max, and each ratio is printed. The 10-step chain is also timed tracked
through MLflow's client at once (``SCANFLOW_TRACKING_JOURNAL=0``: how every tracked run went before the journal).

Each scanflow application has one tracked run before the timed ones (it creates the MLflow experiment, once per
application). A tracked run's MLflow writes are drained after the command exits: the next run starts once the
drainer is done (not timed), so runs do not overlap, and the time the drainer took after the exit is printed.

Then ``python -c "import scanflow_jupyter"`` and ``scanflow --version`` against ``python -c pass``.

Usage: python benchmarks/peers/peers.py [--repeats 5] [--metaflow PYTHON]  (``make bench-peers`` builds that venv)
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import yaml

WORKLOADS = {  # name: (nodes of the scanflow workflow, Metaflow flow source, workers)
    "chain of 10": ("chain", 10, 1),
    "1 -> 20 -> 1 fan, 2 workers": ("fan", 20, 2),
    "chain of 100": ("chain", 100, 1),
}


def scanflow_nodes(shape: str, n: int) -> list[dict[str, object]]:
    if shape == "chain":
        return [
            {"name": f"s{i}", "script": "noop.py", **({"depends_on": [f"s{i - 1}"]} if i else {})} for i in range(n)
        ]
    nodes: list[dict[str, object]] = [{"name": "src", "script": "noop.py"}]
    nodes += [{"name": f"w{i}", "script": "noop.py", "depends_on": ["src"]} for i in range(n)]
    nodes.append({"name": "join", "script": "noop.py", "depends_on": [f"w{i}" for i in range(n)]})
    nodes.append({"name": "sink", "script": "noop.py", "depends_on": ["join"]})
    return nodes


def metaflow_source(shape: str, n: int) -> str:
    if shape == "chain":
        steps = ["start", *[f"s{i}" for i in range(1, n - 1)], "end"]
        body = ""
        for here, after in itertools.pairwise(steps):
            body += f"    @step\n    def {here}(self):\n        self.next(self.{after})\n\n"
        body += "    @step\n    def end(self):\n        pass\n"
    else:
        body = textwrap.dedent(
            f"""
                @step
                def start(self):
                    self.items = list(range({n}))
                    self.next(self.work, foreach="items")

                @step
                def work(self):
                    self.next(self.join)

                @step
                def join(self, inputs):
                    self.next(self.end)

                @step
                def end(self):
                    pass
            """
        )
        body = textwrap.indent(textwrap.dedent(body), "    ")
    head = "from metaflow import FlowSpec, step\n\n\nclass Bench(FlowSpec):\n"
    return f"{head}{body}\n\nif __name__ == '__main__':\n    Bench()\n"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def drained(folder: Path) -> float:
    """Wait (not timed with the run) until the drainer of ``folder``'s store has left; how long that took."""
    from scanflow_jupyter.tracking.journal import drainer_alive

    journal = folder / ".scanflow" / "mlflow.db.journal"
    started = time.perf_counter()
    while journal.exists() and drainer_alive(journal):
        time.sleep(0.02)
    return time.perf_counter() - started


def figure(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--metaflow", help="the Python of a venv with Metaflow (default: none; make bench-peers)")
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    args = parser.parse_args()
    scanflow = str(Path(sys.executable).with_name("scanflow"))
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    metaflow = str(Path(args.metaflow).absolute()) if args.metaflow and Path(args.metaflow).exists() else None
    if metaflow is None:
        print("Metaflow: no venv given (--metaflow PYTHON): its column is left out")
    root = Path(tempfile.mkdtemp(prefix="scanflow-peers-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    mf_env = {**env, "USERNAME": "bench", "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}
    try:
        for name in args.workloads:
            shape, n, workers = WORKLOADS[name]
            app = root / name.replace(" ", "_").replace(">", "").replace(",", "")
            app.mkdir()
            (app / "noop.py").write_text("pass\n")
            spec = {"scanflow": 1, "name": "peers", "workflows": [{"name": "main", "nodes": scanflow_nodes(shape, n)}]}
            (app / "scanflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
            (app / "flow.py").write_text(metaflow_source(shape, n))
            run = [scanflow, "run", str(app), "-q", "--force", "--workers", str(workers)]
            timed(run, app, env)  # creates the experiment (through MLflow's client, once)
            drained(app)
            variants: dict[str, Callable[[], float]] = {
                "scanflow tracked": lambda run=run, app=app: timed(run, app, env),
                "scanflow --no-tracking": lambda run=run, app=app: timed([*run, "--no-tracking"], app, env),
            }
            if name == "chain of 10":
                client_env = {**env, "SCANFLOW_TRACKING_JOURNAL": "0"}
                variants["scanflow tracked, MLflow client at once"] = lambda run=run, app=app, e=client_env: timed(
                    run, app, e
                )
            if metaflow is not None:
                mf = [metaflow, "flow.py", "--quiet", "--no-pylint", "run", "--max-workers", str(workers)]
                variants["Metaflow run"] = lambda mf=mf, app=app: timed(mf, app, mf_env)
            times: dict[str, list[float]] = {v: [] for v in variants}
            drains: list[float] = []
            for _ in range(args.repeats):
                for variant, call in variants.items():
                    times[variant].append(call())
                    if variant == "scanflow tracked":
                        drains.append(drained(app))
            print(f"\n{name} ({args.repeats} runs each, alternating; median (min-max))")
            for variant, values in times.items():
                print(f"  {variant:<42} {figure(values)}")
            print(f"  {'(MLflow caught up after the exit, in)':<42} {figure(drains)}")
            tracked = statistics.median(times["scanflow tracked"])
            untracked = statistics.median(times["scanflow --no-tracking"])
            print(f"  tracking overhead over --no-tracking: {tracked - untracked:+.2f} s")
            if "Metaflow run" in times:
                mf_median = statistics.median(times["Metaflow run"])
                print(f"  Metaflow / scanflow tracked: {mf_median / tracked:.1f}x")
                print(f"  Metaflow / scanflow --no-tracking: {mf_median / untracked:.1f}x")
        print("\nstart-up (median of 10)")
        py = sys.executable
        base = [timed([py, "-c", "pass"], root, env) for _ in range(10)]
        imp = [timed([py, "-c", "import scanflow_jupyter"], root, env) for _ in range(10)]
        ver = [timed([scanflow, "--version"], root, env) for _ in range(10)]
        print(f"  python -c pass                 {figure(base)}")
        zero = statistics.median(base)
        print(f"  import scanflow_jupyter        {figure(imp)}  (+{statistics.median(imp) - zero:.2f} s)")
        print(f"  scanflow --version             {figure(ver)}  (+{statistics.median(ver) - zero:.2f} s)")
        load = os.getloadavg()
        print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
