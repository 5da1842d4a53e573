"""Shared fixtures: small applications on disk, a pre-built MLflow store, and the CI rule that tests
needing Docker or Chromium fail, never skip, when CI=true."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that need Docker or Chromium check for it themselves; in CI a missing one must fail, not skip.
    os.environ.setdefault("SCANFLOW_TEST_ROOT", str(ROOT))
