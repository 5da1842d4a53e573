"""Engine overhead, each figure a median of several runs beside a baseline measured in the same run.

1. Per-step overhead: a chain of 20 no-op script steps, MLflow tracking on, against a bare loop of
   ``subprocess.run([sys.executable, "-c", "pass"])``. Target: at most 2x a bare spawn.
2. Fan-out: 1 -> 32 -> 1, 2 workers against 1. Target: 1.7x faster. Twice: steps that wait 0.1 s (I/O, a remote
   job: the scheduler's parallelism alone) and steps that burn 0.1 s of CPU (two such steps fill both cores, so the
   step interpreters, the engine and the MLflow writer share them).
3. ``python -c "import scanflow_jupyter"`` against ``python -c pass``. Target: at most 0.3 s more.

Usage: python benchmarks/engine_overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

NOOP = "pass\n"
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.1:\n    pass\n"
WAIT = "import time\ntime.sleep(0.1)\n"


def write_app(root: Path, name: str, nodes: list[dict[str, object]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "noop.py").write_text(NOOP)
    (root / "burn.py").write_text(BURN)
    (root / "wait.py").write_text(WAIT)
    spec = {"scanflow": 1, "name": name, "workflows": [{"name": "main", "nodes": nodes}]}
    (root / "scanflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def chain(n: int) -> list[dict[str, object]]:
    return [{"name": f"s{i}", "script": "noop.py", **({"depends_on": [f"s{i - 1}"]} if i else {})} for i in range(n)]


def fan(width: int, script: str) -> list[dict[str, object]]:
    nodes: list[dict[str, object]] = [{"name": "src", "script": script}]
    nodes += [{"name": f"w{i}", "script": script, "depends_on": ["src"]} for i in range(width)]
    nodes.append({"name": "sink", "script": script, "depends_on": [f"w{i}" for i in range(width)]})
    return nodes


def timed_run(folder: Path, workers: int = 1, tracking: bool = True) -> float:
    import scanflow_jupyter as sf

    app = sf.load(folder)
    started = time.perf_counter()
    sf.run(app, workers=workers, force=True, tracking=tracking)
    return time.perf_counter() - started


def bare_spawns(n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def command_time(code: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    r = args.repeats
    tmp = Path(tempfile.mkdtemp(prefix="scanflow-bench-"))
    chain20 = write_app(tmp / "chain20", "chain20", chain(20))
    chain1 = write_app(tmp / "chain1", "chain1", chain(1))
    fanouts = {kind: write_app(tmp / f"fan-{kind}", f"fan-{kind}", fan(32, f"{kind}.py")) for kind in ("wait", "burn")}

    timed_run(chain20)  # warm up: MLflow import, store creation, file caches
    timed_run(chain1)
    runs20, runs1, bare = [], [], []
    for _ in range(r):  # interleaved so machine noise hits both sides alike
        runs20.append(timed_run(chain20))
        runs1.append(timed_run(chain1))
        bare.append(bare_spawns(20))
    per_step = statistics.median(runs20) / 20
    marginal = (statistics.median(runs20) - statistics.median(runs1)) / 19
    spawn = statistics.median(bare) / 20

    fan_times: dict[str, tuple[float, float]] = {}
    for kind, folder in fanouts.items():
        timed_run(folder, workers=2)
        one, two = [], []
        for _ in range(max(3, r // 2)):
            one.append(timed_run(folder, workers=1))
            two.append(timed_run(folder, workers=2))
        fan_times[kind] = (statistics.median(one), statistics.median(two))

    bare_python = command_time("pass", r * 2)
    with_import = command_time("import scanflow_jupyter", r * 2)

    print("engine_overhead (medians)")
    print(f"  bare spawn  python -c pass              {spawn * 1000:8.1f} ms")
    print(f"  20-step chain, tracking on, per step     {per_step * 1000:8.1f} ms   {per_step / spawn:5.2f}x bare spawn")
    print(
        f"  marginal step (20-chain minus 1-chain)   {marginal * 1000:8.1f} ms   {marginal / spawn:5.2f}x bare spawn"
        "   (target <= 2x)"
    )
    print(f"  fixed cost of a tracked run (1 step)     {statistics.median(runs1) * 1000:8.1f} ms")
    for kind, label in (("wait", "waiting 0.1 s"), ("burn", "0.1 s of CPU")):
        one_t, two_t = fan_times[kind]
        print(
            f"  fan-out 1->32->1, steps {label:<14} 1 worker {one_t:5.2f} s, 2 workers {two_t:5.2f} s   "
            f"{one_t / two_t:5.2f}x faster   (target >= 1.7x)"
        )
    print(f"  python -c pass                           {bare_python * 1000:8.1f} ms")
    print(
        f"  python -c 'import scanflow_jupyter'      {with_import * 1000:8.1f} ms   "
        f"+{(with_import - bare_python) * 1000:.1f} ms   (target <= +300 ms)"
    )


if __name__ == "__main__":
    main()
