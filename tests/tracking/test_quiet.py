"""Quiet defaults (issue 19): MLflow's INFO lines and artifact progress bars, TensorFlow's C++ INFO lines do not
reach stderr, where a notebook shows them as red blocks that look like errors; a variable the user set wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.tracking.quiet import QUIET_ENV, quiet_defaults

# What a notebook does first: create a SQLite store (MLflow logs its table creation and migrations at INFO).
FIRST_STORE = """
import sys
sys.path.insert(0, {root!r})
import scanflow_jupyter, IPython
{setup}
import mlflow
client = mlflow.MlflowClient("sqlite:///{db}")
client.create_experiment("x")
"""


def test_defaults_never_override_the_user() -> None:
    env = {"MLFLOW_LOGGING_LEVEL": "DEBUG"}
    quiet_defaults(env)
    assert env == {**QUIET_ENV, "MLFLOW_LOGGING_LEVEL": "DEBUG"}


def _stderr(tmp_path: Path, setup: str) -> str:
    root = str(Path(__file__).resolve().parents[2])
    code = FIRST_STORE.format(root=root, setup=setup, db=tmp_path / "m.db")
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENV}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


@pytest.mark.slow
def test_load_ext_keeps_mlflow_info_lines_off_stderr(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    loud = _stderr(tmp_path / "a", "")
    assert "INFO" in loud  # what a notebook showed in red before
    (tmp_path / "b").mkdir()
    quiet = _stderr(tmp_path / "b", "scanflow_jupyter.load_ipython_extension(IPython.InteractiveShell.instance())")
    assert "INFO" not in quiet, quiet


def test_steps_get_the_defaults_under_their_own_env(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanflow_jupyter.engine import run

    for key in QUIET_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's choice wins
    keys = list(QUIET_ENV)
    script = f"import json, os\njson.dump({{k: os.environ.get(k) for k in {keys!r}}}, open('env.json', 'w'))\n"
    app = make_app(
        [{"name": "probe", "script": "probe.py", "env": {"MLFLOW_LOGGING_LEVEL": "INFO"}}], files={"probe.py": script}
    )
    run(app, tracking=False)
    seen = json.loads((app.folder / "env.json").read_text())
    assert seen == {
        "MLFLOW_LOGGING_LEVEL": "INFO",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "TF_CPP_MIN_LOG_LEVEL": "0",
    }
