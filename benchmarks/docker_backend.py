"""The Docker backend's figures, each beside a baseline measured in the same run.

1. Cold build and run of examples/tabular: the shared runtime image (a throwaway copy), then every image of
   the application, built with no layer cache (``no_cache``); the tracker started; the pipeline run with 2 workers.
2. Warm re-run: the same pipeline again (``force``, so every step runs). Target: no image rebuilt. Baseline:
   the same run with the local backend. Then an unchanged re-run without ``force``: every step cached.
3. Per-step container overhead: a chain of no-op script steps run with the Docker backend (tracking on, and
   off), per step, against a bare ``docker run --rm IMAGE true`` of the same step image, in interleaved rounds.
   Target: at most 1.2x. A second baseline runs the step's own command (``docker run --rm IMAGE``: the image's
   default command is the launcher running the step's script), so both sides start the same Python.

Needs a Docker engine and the base image (``make docker-engine``). Everything the benchmark creates is removed
at the end (found by label). Usage: python benchmarks/docker_backend.py [--steps 10] [--repeats 3]
[--parts cold,warm,overhead] (the parts to measure; all by default)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from scanflow_jupyter.deploy.docker import DockerApp
from scanflow_jupyter.deploy.docker.images import build as build_images
from scanflow_jupyter.engine import run as local_run
from scanflow_jupyter.workflow import load

ROOT = Path(__file__).resolve().parents[1]
BASE = os.environ.get("SCANFLOW_BASE_IMAGE", "scanflow/debian-python:bookworm")


def chain_app(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "noop.py").write_text("pass\n")
    nodes = [{"name": f"s{i}", "script": "noop.py", **({"depends_on": [f"s{i - 1}"]} if i else {})} for i in range(n)]
    spec = {"scanflow": 1, "name": "bench-noop", "workflows": [{"name": "main", "nodes": nodes}]}
    (root / "scanflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps in the no-op chain")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="cold,warm,overhead", help="the parts to measure, comma-separated")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= {"cold", "warm", "overhead"}:
        parser.error(f"--parts takes cold, warm and overhead, not {args.parts!r}")
    tmp = Path(tempfile.mkdtemp(prefix="scanflow-bench-docker-"))
    app_dir = tmp / "tabular"
    shutil.copytree(ROOT / "examples" / "tabular", app_dir, ignore=shutil.ignore_patterns("work", ".scanflow"))
    app = load(app_dir)
    app.name = "bench-tabular"  # never the name tests and notebooks use: clean-up removes by name
    tabular = DockerApp(app, base_image=BASE)
    noop = DockerApp(load(chain_app(tmp / "noop", args.steps)), base_image=BASE)
    try:
        tabular.cleanup()
        noop.cleanup()
        print(f"Docker backend, base image {BASE}, {os.cpu_count()} cores")

        if "cold" in parts:
            # 1. cold. The shared runtime (the base, a venv, MLflow) is built once per machine: here a copy of it
            # under a throwaway tag, with no layer cache, so the runtime every other test and user shares stays.
            [runtime] = tabular.images(workflows=[], tracker=False)
            runtime.tag = "bench-cold"
            started = time.perf_counter()
            build_images(tabular.client, [runtime], no_cache=True)
            runtime_s = time.perf_counter() - started
            tabular.client.images.remove(runtime.name)
            print(f"cold: the shared runtime (once per machine; pip installs MLflow): {runtime_s:.1f} s")
            started = time.perf_counter()
            built = tabular.build(workflows=["pipeline"], no_cache=True)
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            tabular.start()
            start_s = time.perf_counter() - started
            started = time.perf_counter()
            result = tabular.run("pipeline", workers=2)
            run_s = time.perf_counter() - started
            print(
                f"cold: build the application's {len(built) - 1} images {build_s:.1f} s (no layer cache), start the "
                f"tracker {start_s:.1f} s, run {run_s:.1f} s ({result.status}); total {build_s + start_s + run_s:.1f} s"
            )

        if "warm" in parts:
            # 2. warm
            warm, rebuilt = [], []
            for _ in range(args.repeats):
                events: list[object] = []
                started = time.perf_counter()
                again = tabular.run("pipeline", workers=2, force=True, on_progress=events.append)
                warm.append(time.perf_counter() - started)
                rebuilt += [e for e in events if getattr(e, "status", "") == "built"]
                assert again.ok
            started = time.perf_counter()
            cached = tabular.run("pipeline", workers=2)
            cached_s = time.perf_counter() - started
            assert {s.value for s in cached.states.values()} == {"cached"}
            started = time.perf_counter()
            local = local_run(load(app_dir), "pipeline", workers=2, force=True)
            local_s = time.perf_counter() - started
            assert local.ok
            print(
                f"warm re-run (force, every step runs): median {statistics.median(warm):.1f} s over {len(warm)} "
                f"(the same run, local backend: {local_s:.1f} s); images rebuilt: {len(rebuilt)} (target 0); "
                f"unchanged re-run (every step cached): {cached_s:.1f} s"
            )

        if "overhead" in parts:
            # 3. per-step overhead
            images = noop.build()
            noop.start()
            image = images["s0"]
            for _ in range(2):  # warm the engine's caches for this image
                subprocess.run(["docker", "run", "--rm", image, "true"], check=True, capture_output=True)
            # Rounds, each a batch of bare runs then the chain with tracking on and off: a change in the machine's
            # load (it is shared) then hits both sides of a ratio alike. Each figure is the median over the rounds.
            bare: list[float] = []
            same: list[float] = []  # the step's own command
            per_step: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(args.repeats):
                for command, into in ((["true"], bare), ([], same)):
                    times = []
                    for _ in range(args.steps):
                        started = time.perf_counter()
                        subprocess.run(["docker", "run", "--rm", image, *command], check=True, capture_output=True)
                        times.append(time.perf_counter() - started)
                    into.append(statistics.median(times))
                for tracking in (True, False):
                    started = time.perf_counter()
                    out = noop.run(force=True, tracking=tracking)
                    per_step[tracking].append((time.perf_counter() - started) / args.steps)
                    assert out.ok
            bare_s = statistics.median(bare)
            for tracking in (True, False):
                steps = per_step[tracking]
                ratios = [step / base for step, base in zip(steps, bare, strict=True)]
                print(
                    f"per step, {args.steps}-step chain, tracking {'on ' if tracking else 'off'}: "
                    f"{statistics.median(steps) * 1000:.0f} ms ({min(steps) * 1000:.0f}-{max(steps) * 1000:.0f}); "
                    f"bare 'docker run --rm IMAGE true' {bare_s * 1000:.0f} ms ({min(bare) * 1000:.0f}-"
                    f"{max(bare) * 1000:.0f}); ratio {statistics.median(ratios):.2f}x ({min(ratios):.2f}-"
                    f"{max(ratios):.2f}; target <= 1.2x; median of {args.repeats} rounds' ratios)"
                )
                ratios = [step / base for step, base in zip(steps, same, strict=True)]
                print(
                    f"    against a bare 'docker run --rm IMAGE' (the step's own command) "
                    f"{statistics.median(same) * 1000:.0f} ms ({min(same) * 1000:.0f}-{max(same) * 1000:.0f}): "
                    f"ratio {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
                )
    finally:
        tabular.cleanup()
        noop.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
