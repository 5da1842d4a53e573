"""Secrets in tracking URIs: ``redact`` for what is shown, ``tracking_env`` for what a child process gets, and the
one resolver of the tracking URI."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.tracking.store import default_uri, redact, resolve, resolve_uri, tracking_env
from scanflow_jupyter.workflow import Application, Tracker


@pytest.mark.parametrize(
    ("text", "shown", "link"),
    [
        ("http://ann:s3cret@tracker:5000", "http://ann:***@tracker:5000", "http://tracker:5000"),
        ("https://ann:p@ss@host/mlflow", "https://ann:***@host/mlflow", "https://host/mlflow"),  # a raw '@'
        ("https://ghp_tok3n@host", "https://***@host", "https://host"),  # user info alone may be a token
        ("postgresql://u:secret@db:5432/mlflow", "postgresql://u:***@db:5432/mlflow", "postgresql://db:5432/mlflow"),
        ("mysql+pymysql://u:pw@db/m?charset=utf8", "mysql+pymysql://u:***@db/m?charset=utf8", "mysql+pymysql://db/m?charset=utf8"),
        ("postgresql://db/m?user=u&password=secret", "postgresql://db/m?user=u&password=***", "postgresql://db/m?user=u&password=***"),
        ("https://h/x?sig=abc123&sv=1", "https://h/x?sig=***&sv=1", "https://h/x?sig=***&sv=1"),
        ("sqlite:////home/a:b@c/mlflow.db", "sqlite:////home/a:b@c/mlflow.db", "sqlite:////home/a:b@c/mlflow.db"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        (
            "API request to http://ann:s3cret@h:5000/api/2.0/mlflow/runs/get failed ('http://ann:s3cret@h:5000')",
            "API request to http://ann:***@h:5000/api/2.0/mlflow/runs/get failed ('http://ann:***@h:5000')",
            "API request to http://h:5000/api/2.0/mlflow/runs/get failed ('http://h:5000')",
        ),
    ],
)  # fmt: skip
def test_redact_masks_every_secret_of_a_uri(text: str, shown: str, link: str) -> None:
    assert redact(text) == shown
    assert redact(text, keep_user=False) == link


def test_redact_masks_the_values_of_secret_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123456")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-abcdef")
    monkeypatch.setenv("PGPASSWORD", "x")  # too short to mask: it would mask every 'x' of the text
    assert redact("sent Bearer tok-123456 and pw-abcdef to http://x:5000") == "sent Bearer *** and *** to http://x:5000"


def test_tracking_env_puts_a_servers_password_in_its_own_variables() -> None:
    assert tracking_env("http://ann:p%40ss%3Aw@tracker:5000/prefix") == {
        "MLFLOW_TRACKING_URI": "http://tracker:5000/prefix",
        "MLFLOW_TRACKING_USERNAME": "ann",
        "MLFLOW_TRACKING_PASSWORD": "p@ss:w",
    }
    for uri in ("http://tracker:5000", "sqlite:////a/b.db", "postgresql://u:pw@db/m"):
        assert tracking_env(uri) == {"MLFLOW_TRACKING_URI": uri}  # a database URI keeps its password (no variable)


def test_one_resolver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = Application(name="demo")
    app.folder = tmp_path
    monkeypatch.chdir(tmp_path)
    assert resolve_uri(None) is None
    assert resolve_uri(app) == default_uri(tmp_path)
    assert resolve(None).uri == default_uri(tmp_path) and resolve(None).experiment == "scanflow"
    assert resolve(None).artifact_root == (tmp_path / ".scanflow" / "artifacts").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://ann:pw@tracker:5000")
    assert resolve_uri(None) == resolve_uri(app) == resolve(None).uri == "http://ann:pw@tracker:5000"
    assert resolve(None).artifact_root is None
    app.tracker = Tracker(uri="sqlite:////elsewhere/mlflow.db")
    assert resolve_uri(app) == resolve(app).uri == "sqlite:////elsewhere/mlflow.db"


def test_the_writers_command_line_holds_no_uri(make_app: Callable[..., Any], tmp_path: Path) -> None:
    """``ps`` shows every process's command line to every user: the writer gets its store through its
    environment (the fault test in tests/faults/test_secrets.py checks the same with a password)."""
    import psutil

    from scanflow_jupyter.tracking.recorder import release_writer, writer_for

    app = make_app([{"name": "a", "script": "step.py"}], folder=tmp_path / "visible-folder-name")
    uri = resolve(app).uri
    writer = writer_for(uri)
    try:
        command = " ".join(psutil.Process(writer.process.pid).cmdline())
        assert "scanflow_jupyter.tracking.writer" in command and "visible-folder-name" not in command
        assert os.environ.get("SCANFLOW_WRITER_TRACKING_URI") is None  # set for the child only
    finally:
        release_writer(writer)


def test_links_to_the_mlflow_ui_carry_no_credentials() -> None:
    from scanflow_jupyter.notebook.widgets.graph import mlflow_url

    assert mlflow_url("http://ann:pw@tracker:5000/", "1", "abc") == "http://tracker:5000/#/experiments/1/runs/abc"
    assert mlflow_url("http://ann:***@tracker:5000", "1", "abc") == "http://tracker:5000/#/experiments/1/runs/abc"
    assert mlflow_url("sqlite:////a/mlflow.db", "1", "abc") is None
