"""A password in the tracking URI, on a real password-protected tracker: it is used, and never written or shown.

The tracker is MLflow's own basic-auth server (``mlflow server --app-name basic-auth``) on a loopback port: a
request without the password, or with a wrong one, gets 401, so a run that ends tracked proves the password
went where it had to. The workflow runs through the CLI (``scanflow run``, then ``scanflow resume`` of the step
that failed, ``scanflow status``, ``scanflow runs``), with the URI in ``MLFLOW_TRACKING_URI``, its step
scripts logging with MLflow's own API; ``ps`` is sampled all along. Then every byte the run wrote (the
application folder: state files, logs, caches) and printed (the CLI's stdout and stderr, each ``ps`` sample),
and the tracker's store (its database: tags, params, run names; its artifacts; its log) is searched for the
password: zero hits. A wrong password, an unreachable server and the run browser are checked the same way.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ..tracking.runstores import MlflowServer, free_port

pytestmark = [pytest.mark.faults, pytest.mark.slow]

USER = "scanflow"
SECRET = f"Sf-{secrets.token_hex(10)}"  # what must never appear: long and random, so a hit is a leak
WRONG = f"Wrong-{secrets.token_hex(10)}"

STEP = """
import os, sys
import mlflow

with mlflow.start_run():  # the child run the engine made (MLFLOW_RUN_ID)
    mlflow.log_param("where", os.environ["MLFLOW_TRACKING_URI"])
    mlflow.log_metric("score", 0.5)
    mlflow.log_text("a note", "note.txt")
if sys.argv[1:] == ["--fail", "true"] and not os.path.exists("go"):
    sys.exit("failing until the file 'go' exists")
print("step done")
"""


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[MlflowServer]:
    try:
        import flask_wtf  # noqa: F401  # MLflow's basic-auth app needs it (mlflow[auth]); a dev dependency
    except ImportError:
        if os.environ.get("CI", "").lower() in {"1", "true"}:
            pytest.fail("Flask-WTF is not installed (requirements.lock): the password-protected tracker cannot start")
        pytest.skip("Flask-WTF is not installed: pip install -r requirements.lock")
    folder = tmp_path_factory.mktemp("auth-tracker")
    shutil.copy(mlflow_template, folder / "server.db")  # its tables made once, not at each server start
    (folder / "auth.ini").write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'auth.db'}\n"
        f"admin_username = {USER}\nadmin_password = {SECRET}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    server = MlflowServer(
        folder,
        args=("--app-name", "basic-auth"),
        env={
            "MLFLOW_AUTH_CONFIG_PATH": str(folder / "auth.ini"),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        },
    ).start(timeout=180)
    try:
        yield server
    finally:
        server.stop()


class PsSampler:
    """Every process's command line (``ps -eww``), sampled until stopped."""

    def __init__(self) -> None:
        self.samples: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True).stdout
            self.samples.append(out)
            self._stop.wait(0.05)

    def __enter__(self) -> PsSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cli(*args: str, uri: str, cwd: Path, printed: list[str], ps: PsSampler | None = None) -> int:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "scanflow_jupyter.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    printed += [f"$ scanflow {' '.join(args)}", proc.stdout, proc.stderr]
    return proc.returncode


def hits(text: str | bytes, *needles: str) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [n for n in needles if n.encode() in data]


def leaks(root: Path, *needles: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Files under ``root`` holding one of ``needles`` (raw bytes: every file, text or not)."""
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in skip and hits(path.read_bytes(), *needles):
            out.append(str(path.relative_to(root)))
    return out


def test_a_password_in_the_tracking_uri_is_used_and_never_shown(tracker: MlflowServer, tmp_path: Path) -> None:
    app = tmp_path / "secretive"
    app.mkdir()
    (app / "step.py").write_text(STEP)
    spec = {
        "scanflow": 1,
        "name": "secretive",
        "workflows": [
            {
                "name": "main",
                "nodes": [
                    {"name": "prep", "script": "step.py"},
                    {"name": "train", "script": "step.py", "parameters": {"fail": True}, "depends_on": ["prep"]},
                ],
            }
        ],
    }
    (app / "scanflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    uri = f"http://{USER}:{SECRET}@127.0.0.1:{tracker.port}"
    printed: list[str] = []

    with PsSampler() as ps:
        assert cli("run", str(app), uri=uri, cwd=tmp_path, printed=printed) == 1, printed  # train fails
        (app / "go").write_text("")
        assert cli("resume", str(app), uri=uri, cwd=tmp_path, printed=printed) == 0, printed
    assert cli("status", str(app), uri=uri, cwd=tmp_path, printed=printed) == 0, printed
    assert cli("runs", str(app), uri=uri, cwd=tmp_path, printed=printed) == 0, printed

    # The password was used: the runs are in the protected store, finished, with the steps' own logging.
    states = list((app / ".scanflow" / "runs").glob("*/state.json"))
    (state,) = [json.loads(p.read_text()) for p in states]
    assert state["status"] == "succeeded" and state["tracking_uri"] == f"http://{USER}:***@127.0.0.1:{tracker.port}"
    with sqlite3.connect(tracker.folder / "server.db") as conn:
        statuses = dict(conn.execute("SELECT name, status FROM runs"))
        wheres = {v for (v,) in conn.execute("SELECT value FROM params WHERE key = 'where'")}
    assert statuses[f"main {state['run_id']}"] == "FINISHED" and statuses["train"] == "FINISHED", statuses
    assert wheres == {f"http://127.0.0.1:{tracker.port}"}  # what a step sees: the URI without the password
    assert any("scanflow_jupyter.tracking.writer" in s for s in ps.samples)  # ps looked while the writer ran

    # A wrong password and an unreachable server: refused, named, and the password not in the message.
    wrong = f"http://{USER}:{WRONG}@127.0.0.1:{tracker.port}"
    assert cli("run", str(app), uri=wrong, cwd=tmp_path, printed=printed) != 0
    assert f"http://{USER}:***@127.0.0.1:{tracker.port}" in printed[-1], printed[-1]
    gone = f"http://{USER}:{WRONG}@127.0.0.1:{free_port()}"
    assert cli("run", str(app), uri=gone, cwd=tmp_path, printed=printed) != 0
    assert "Cannot reach the MLflow tracking server 'http://scanflow:***@127.0.0.1:" in printed[-1], printed[-1]

    # The run browser on the protected store: its traits (what the view gets), repr, text and links.
    from scanflow_jupyter.errors import TrackingError
    from scanflow_jupyter.notebook import RunBrowser

    browser = RunBrowser(uri, experiments=["secretive"], page_size=100, tree=False)
    run_id = next(r["run_id"] for r in browser.rows if r["kind"] == "run")
    browser.open_run(run_id)
    browser.compare([r["run_id"] for r in browser.rows][:2])
    assert (
        browser.run["mlflow_url"]
        == f"http://127.0.0.1:{tracker.port}/#/experiments/{browser.run['experiment_id']}/runs/{run_id}"
    )
    shown = [json.dumps(browser.get_state(), default=str), repr(browser), browser._text()]
    with pytest.raises(TrackingError) as refused:
        RunBrowser(uri, experiments=["nope"])
    shown.append(str(refused.value))
    browser.close()

    # Zero hits anywhere.
    assert leaks(app, SECRET, WRONG) == []
    assert [text for text in printed if hits(text, SECRET, WRONG)] == []
    assert [s for s in ps.samples if hits(s, SECRET)] == []
    assert [text for text in shown if hits(text, SECRET)] == []
    # The tracker's store (database, artifacts, log); not its configuration, which holds the password by design.
    assert leaks(tracker.folder, SECRET, WRONG, skip=("auth.ini",)) == []
