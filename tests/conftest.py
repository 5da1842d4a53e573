"""Shared fixtures and rules: small applications on disk, a pre-built MLflow store; the CI rule (a test that needs
Docker, Chromium or PostgreSQL fails, never skips, when CI=true); the Docker engine lock; and the check that the
suite writes nothing into the repository."""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# A step that records its argv and sleeps if asked; used by most engine tests (stdlib only: fast to start).
ECHO_STEP = textwrap.dedent(
    """
    import json, os, sys, time
    args = sys.argv[1:]
    opts = dict(zip(args[::2], args[1::2]))
    name = os.environ.get("SCANFLOW_NODE", "standalone").replace("/", "__")
    os.makedirs("out", exist_ok=True)
    with open(os.path.join("out", name + ".json"), "w") as fh:
        json.dump({"argv": args, "run_id": os.environ.get("MLFLOW_RUN_ID")}, fh)
    with open(os.path.join("out", "order.txt"), "a") as fh:
        fh.write(os.environ.get("SCANFLOW_NODE", "") + "\\n")
    time.sleep(float(opts.get("--sleep", "0")))
    if opts.get("--fail") == "true":
        print("something went wrong in the step", file=sys.stderr)
        sys.exit(3)
    print("done", name)
    """
)


# Tiny networks and few epochs: the tests check behaviour, benchmarks/checker_quality.py checks quality.
TINY: dict[str, Any] = {"hidden": (32,), "code_size": 8, "epochs": 40, "patience": 5, "progress": False, "seed": 0}


@pytest.fixture(scope="session")
def digits() -> tuple[Any, Any]:
    """scikit-learn's digits as float32 vectors on [0, 1] (shuffled) and their labels."""
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    # Shuffled: the file is ordered by writer, so its first and last samples differ (a drift of their own).
    order = np.random.default_rng(0).permutation(len(x))
    return (x[order] / 16.0).astype(np.float32), y[order]


@pytest.fixture(scope="session")
def fitted(digits: tuple[Any, Any]) -> Any:
    """A detector fitted on 800 samples of the digits 1-9 (0 is the novelty)."""
    from scanflow_jupyter.checking import AutoencoderDetector

    x, y = digits
    return AutoencoderDetector(**TINY).fit(x[y != 0][:800])


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with its tables created once (creating them takes about a second)."""
    from scanflow_jupyter.tracking.store import StoreConfig, prepare_sqlite

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    prepare_sqlite(StoreConfig(f"sqlite:///{path}", "x", None))
    from mlflow.tracking import MlflowClient

    MlflowClient(f"sqlite:///{path}").search_experiments()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def seed_store(mlflow_template: Path) -> Callable[[Path], None]:
    def seed(folder: Path) -> None:
        target = folder / ".scanflow" / "mlflow.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mlflow_template, target)

    return seed


@pytest.fixture(autouse=True)
def _no_outer_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    yield
    # A test that called mlflow.set_experiment leaves MLflow's current experiment (a global, and the variable
    # MLFLOW_EXPERIMENT_ID) pointing into its own store: the next test in this process would log into an experiment
    # id its store does not have.
    fluent = sys.modules.get("mlflow.tracking.fluent")
    if fluent is not None:
        fluent._active_experiment_id = None  # type: ignore[attr-defined]
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    # Likewise MLflow's current tracking URI (a global beside the variable): left set, the next test's
    # `_use_tracking_uri` or `set_tracking_uri(previous)` would put it back into MLFLOW_TRACKING_URI.
    service = sys.modules.get("mlflow.tracking._tracking_service.utils")
    if service is not None:
        service._tracking_uri = None  # type: ignore[attr-defined]


@pytest.fixture
def make_app(tmp_path: Path, seed_store: Callable[[Path], None]) -> Callable[..., Any]:
    """Write an application folder and load it.

    ``nodes`` is the YAML node list of a single workflow ``main``; ``files`` maps paths to contents
    (``step.py`` holds ECHO_STEP unless given).
    """
    from scanflow_jupyter.workflow import load

    def make(
        nodes: list[dict[str, Any]],
        files: dict[str, str] | None = None,
        name: str = "demo",
        folder: Path | None = None,
        **app_keys: Any,
    ) -> Any:
        root = folder or tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for rel, text in {"step.py": ECHO_STEP, **(files or {})}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        spec = {"scanflow": 1, "name": name, **app_keys, "workflows": [{"name": "main", "nodes": nodes}]}
        (root / "scanflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        seed_store(root)
        return load(root)

    return make


@pytest.fixture
def tabular(tmp_path: Path, seed_store: Callable[[Path], None]) -> Path:
    """A fresh copy of examples/tabular."""
    target = tmp_path / "tabular"
    shutil.copytree(EXAMPLES / "tabular", target, ignore=shutil.ignore_patterns("work", ".scanflow", "mlruns"))
    seed_store(target)
    return target


# Markers of tests that need something real (an engine, a browser, a database server). With CI=true a skip of one
# of them is a failure: CI must prove them, and a missing engine must turn it red, not quietly green.
REQUIRED_IN_CI = ("docker", "browser", "postgres")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true"}


def pytest_configure(config: pytest.Config) -> None:
    # IPython's profile and history (the magics' shell, the notebooks' kernels) in a scratch folder, not ~/.ipython.
    if "IPYTHONDIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="scanflow-tests-ipython-")
        os.environ["IPYTHONDIR"] = folder
        # At exit, after IPython's own exit handler (registered later, so run earlier) has saved its history.
        atexit.register(shutil.rmtree, folder, True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    os.environ.setdefault("SCANFLOW_TEST_ROOT", str(ROOT))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    needs = [m for m in REQUIRED_IN_CI if item.get_closest_marker(m) is not None]
    if report.skipped and needs and in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI=true: a {'/'.join(needs)} test may not be skipped, and this one was: {reason}"
    return report


# -- one Docker engine, shared by tests that use it and by the few that change it engine-wide -------------------
DOCKER_LOCK = Path(tempfile.gettempdir()) / "scanflow-tests-docker-engine.lock"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Every ``docker`` test holds the engine's lock shared; an ``engine_wide`` test (swarm mode, fixed names,
    daemon settings) holds it alone, so no other test's network or container lives through its change (a
    ``docker swarm init``/``leave`` beside a running container took its network's name resolution for good).

    Taken around the whole protocol (setup, call, teardown) and outside pytest-timeout's clock: waiting for the
    engine is not the test's time."""
    if item.get_closest_marker("docker") is None:
        return (yield)
    exclusive = item.get_closest_marker("engine_wide") is not None
    engine = os.environ.get("DOCKER_HOST", "default").encode()
    path = DOCKER_LOCK.with_suffix(f".{hashlib.sha256(engine).hexdigest()[:8]}.lock")
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            return (yield)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# -- the suite leaves the repository as it found it ---------------------------------------------------------------
# Folders the setup makes (and tools' caches): not the tests' doing.
TREE_ALLOWED = (".venv/", "node_modules/", ".make/", "lib/", "scanflow_jupyter/labextension/", ".yarn/",
                "scanflow_jupyter/_version.py", "tsconfig.tsbuildinfo", "ui-tests/node_modules/")  # fmt: skip
TREE_CACHES = ("__pycache__/", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/", ".hypothesis/")


def tree_entries() -> set[str] | None:
    """Untracked and ignored paths of the repository (folders collapsed), minus setup outputs and caches."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=normal", "-z"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout (an sdist): nothing to compare
    entries = {e[3:] for e in out.split("\0") if e[:2] in ("??", "!!")}
    return {e for e in entries if not e.startswith(TREE_ALLOWED) and not any(c in e for c in TREE_CACHES)}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller, before any xdist worker runs a test
        session.config.stash[TREE_KEY] = tree_entries()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(TREE_KEY, None)
    if hasattr(session.config, "workerinput") or before is None:
        return
    after = tree_entries() or set()
    new = sorted(after - before)
    if new:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "The tests wrote into the repository (every store and artifact belongs under tmp_path): " + ", ".join(
            new
        )
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


TREE_KEY = pytest.StashKey[set[str] | None]()
